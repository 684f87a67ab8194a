"""zoo/download.py against a real HTTP server on 127.0.0.1 (http.server in a thread, with Range
support and a handler that drops the connection mid-file): success, a wrong checksum, a short
file, a dropped connection resumed in the same call and by a second call, a whole `.part`
verified without fetching again; and the command line's one-line errors."""

import dataclasses
import hashlib
import http.server
import os
import pathlib
import re
import subprocess
import sys
import threading

import pytest

from bioacoustics_jax.zoo import download
from bioacoustics_jax.zoo import presets

PAYLOAD = os.urandom(300_000)
DIGEST = hashlib.sha256(PAYLOAD).hexdigest()


class _Handler(http.server.BaseHTTPRequestHandler):
  """Serves server.files; honours `Range: bytes=N-`; server.drops holds, per request in
  order, how many body bytes to send before closing the connection (None: all)."""

  def do_GET(self):  # pylint: disable=invalid-name
    server = self.server
    asked = self.headers.get("Range")
    server.requests.append(asked)
    data = server.files.get(self.path)
    if data is None:
      self.send_error(404)
      return
    start = int(re.fullmatch(r"bytes=(\d+)-", asked).group(1)) if asked else 0
    if start >= len(data) and asked:
      self.send_response(416)
      self.send_header("Content-Range", f"bytes */{len(data)}")
      self.send_header("Content-Length", "0")
      self.end_headers()
      return
    body = data[start:]
    self.send_response(206 if asked else 200)
    if asked:
      self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
    self.send_header("Content-Length", str(len(body)))
    self.end_headers()
    cut = server.drops.pop(0) if server.drops else None
    self.wfile.write(body if cut is None else body[:cut])
    self.wfile.flush()
    self.close_connection = True  # after a cut: the client sees the connection end mid-file

  def log_message(self, *args):
    pass


@pytest.fixture
def server(monkeypatch):
  monkeypatch.setenv("no_proxy", "127.0.0.1")
  monkeypatch.setenv("NO_PROXY", "127.0.0.1")
  httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
  httpd.files = {"/w.pth": PAYLOAD, "/short.pth": PAYLOAD[:1000]}
  httpd.drops, httpd.requests = [], []
  httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
  thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
  thread.start()
  yield httpd
  httpd.shutdown()
  httpd.server_close()


def _fetch(server, tmp_path, path="/w.pth", digest=DIGEST, **kwargs):
  checksum = None if digest is None else download.Checksum(digest, "the test")
  return download.fetch(server.url + path, tmp_path / "w.pth", checksum, progress=False,
                        backoff_s=0, **kwargs)


def test_success_verifies_and_leaves_no_part(server, tmp_path, capsys):
  assert download.fetch(server.url + "/w.pth", tmp_path / "w.pth",
                        download.Checksum(DIGEST, "the test"), progress=True) == DIGEST
  assert (tmp_path / "w.pth").read_bytes() == PAYLOAD
  assert not (tmp_path / "w.pth.part").exists() and server.requests == [None]
  bar = capsys.readouterr().err  # the progress bar, on stderr
  assert "w.pth: 100%" in bar and "293k/293k" in bar


def test_wrong_checksum_deletes_the_download(server, tmp_path):
  with pytest.raises(download.DownloadError, match=f"sha256 is {DIGEST}, not 0000"):
    _fetch(server, tmp_path, digest="0" * 64)
  assert list(tmp_path.iterdir()) == []  # neither the final name nor a .part


def test_short_file_fails_the_checksum_a_prefix_too(server, tmp_path):
  """The server sends a complete response of a truncated file: only the digest catches it."""
  with pytest.raises(download.DownloadError, match="not " + DIGEST[:8]):
    _fetch(server, tmp_path, path="/short.pth", digest=DIGEST[:8])
  assert list(tmp_path.iterdir()) == []


def test_dropped_connection_is_resumed_with_a_range_request(server, tmp_path):
  server.drops = [100_000, 50_000]  # two drops, then the rest in one go
  assert _fetch(server, tmp_path, retries=2) == DIGEST
  assert server.requests == [None, "bytes=100000-", "bytes=150000-"]
  assert (tmp_path / "w.pth").read_bytes() == PAYLOAD


def test_out_of_tries_keeps_the_part_and_a_second_call_resumes(server, tmp_path):
  server.drops = [120_000]
  with pytest.raises(download.DownloadError, match="run the same command again to resume"):
    _fetch(server, tmp_path, retries=0)
  assert not (tmp_path / "w.pth").exists()
  assert (tmp_path / "w.pth.part").stat().st_size == 120_000
  assert _fetch(server, tmp_path) == DIGEST
  assert server.requests == [None, "bytes=120000-"]
  assert (tmp_path / "w.pth").read_bytes() == PAYLOAD


def test_a_whole_part_is_verified_without_fetching_and_a_longer_one_is_fetched_again(
    server, tmp_path):
  (tmp_path / "w.pth.part").write_bytes(PAYLOAD)  # e.g. stopped between download and rename
  assert _fetch(server, tmp_path) == DIGEST and server.requests == ["bytes=300000-"]
  (tmp_path / "w.pth").unlink()
  (tmp_path / "w.pth.part").write_bytes(PAYLOAD + b"junk")
  assert _fetch(server, tmp_path) == DIGEST
  assert server.requests[1:] == ["bytes=300004-", None]


def test_http_error_and_unreachable_server(server, tmp_path):
  with pytest.raises(download.DownloadError, match="HTTP 404"):
    _fetch(server, tmp_path, path="/missing.pth")
  with pytest.raises(download.DownloadError, match=r"\(2 tries\)"):
    download.fetch("http://127.0.0.1:9/w.pth", tmp_path / "x.pth", None, progress=False,
                   retries=1, backoff_s=0, timeout=5)
  assert list(tmp_path.iterdir()) == []


def test_a_preset_is_fetched_under_its_file_name_and_checked_again_when_there(server,
                                                                            tmp_path):
  """download_model with rn18p's row pointed at the local server (its sha256 set to the
  payload's): the file lands under the preset's name, and a second call finds and checks it."""
  preset = dataclasses.replace(presets.get_preset("rn18p"), sha256=DIGEST,
                               weights_url=server.url + "/w.pth")
  result = download.download_model(preset, tmp_path, progress=False, backoff_s=0)
  assert result.fetched and result.path == tmp_path / "resnet18-f37072fd.pth"
  assert "rn18p: fetched" in download.describe(result) and "sha256 matches" in \
      download.describe(result)
  again = download.download_model(preset, tmp_path, progress=False)
  assert not again.fetched and again.sha256 == DIGEST and server.requests == [None]
  unknown = dataclasses.replace(preset, name="x", weights="x.pt", sha256=None)
  line = download.describe(download.download_model(unknown, tmp_path, progress=False))
  assert "NOT verified" in line and DIGEST in line


def test_checksums_come_from_the_table_or_torchvision_names():
  rn18p, rn152p, aves = (presets.get_preset(n) for n in ("rn18p", "rn152p", "aves"))
  assert download.expected_checksum(rn18p).whole
  prefix = download.expected_checksum(rn152p)
  assert prefix.digest == "f82ba261" and not prefix.whole and "not recorded" in prefix.source
  assert download.expected_checksum(aves) is None
  for file, digest in presets.WEIGHTS_SHA256.items():  # a typo in the table fails here
    named = re.search(r"-([0-9a-f]{8})\.pth$", file).group(1)
    assert re.fullmatch(r"[0-9a-f]{64}", digest) and digest.startswith(named), file


def test_what_the_readme_says_is_checked_and_how():
  """README: the whole digest for rn18p, rn50p, alex, vggish; the file-name prefix for the other
  torchvision files; nothing for the rest, said as NOT verified with the digest printed."""
  kinds = {}
  for name in presets.names():
    preset = presets.get_preset(name)
    if preset.weights:
      checksum = download.expected_checksum(preset)
      kinds[name] = None if checksum is None else ("whole" if checksum.whole else "prefix")
  assert {n for n, k in kinds.items() if k == "whole"} == {"rn18p", "rn50p", "alex", "vggish"}
  torchvision = {n for n in kinds if presets.get_preset(n).weights_url.startswith(
      "https://download.pytorch.org/models/")}
  assert {n for n, k in kinds.items() if k == "prefix"} == torchvision - set(
      n for n, k in kinds.items() if k == "whole")
  assert kinds["aves"] is None and kinds["cnn14"] is None and kinds["whisper_base"] is None
  line = download.describe(download.Result("aves", pathlib.Path("/w/a.pt"), "ab12",
                                           None, fetched=True))
  assert "NOT verified" in line and "ab12" in line


def test_paper_set_is_the_presets_paper_models_with_files():
  assert download.models_to_download("paper") == list(presets.PAPER_MODELS)
  assert download.models_to_download("rn18p+paper,vggish")[0] == "rn18p"
  with pytest.raises(KeyError, match="Unknown model 'nope'"):
    download.models_to_download("nope")


def test_unknown_and_random_init_models(tmp_path, capsys):
  with pytest.raises(KeyError, match="Unknown model 'rn18p_typo'"):
    download.download("rn18p_typo", tmp_path)
  assert download.download("rn18", tmp_path) == []
  assert capsys.readouterr().out == "rn18: random init, nothing to download\n"
  assert list(tmp_path.iterdir()) == []


def test_command_line_error_is_one_line(tmp_path):
  """A file already there with another digest than the table's: one line, exit 1, the file
  left as it was (nothing fetched)."""
  (tmp_path / "resnet18-f37072fd.pth").write_bytes(b"not the weights")
  done = subprocess.run([sys.executable, "-m", "bioacoustics_jax.zoo", "--download=rn18p",
                         f"--weights_dir={tmp_path}"], capture_output=True, text=True,
                        env=dict(os.environ, JAX_PLATFORMS="cpu"), check=False, timeout=120)
  assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
  assert done.stderr.startswith("ERROR: ") and "already there but its sha256 is" in done.stderr
  assert presets.WEIGHTS_SHA256["resnet18-f37072fd.pth"] in done.stderr
  assert (tmp_path / "resnet18-f37072fd.pth").read_bytes() == b"not the weights"
