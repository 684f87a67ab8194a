"""`python -m bioacoustics_jax.zoo --list`: one row per preset, presence read from the folder."""

from absl import flags
from absl.testing import flagsaver

from bioacoustics_jax import zoo
from bioacoustics_jax.zoo import __main__ as cli
from bioacoustics_jax.zoo import listing


def test_rows_state_licence_window_and_presence(tmp_path):
  (tmp_path / "birdaves-biox-base.torchaudio.pt").write_bytes(b"not read by the listing")
  (tmp_path / "aves.ported").mkdir()
  (tmp_path / "aves.ported" / "porting.json").write_text("{}")
  rows = {r["id"]: r for r in listing.rows(tmp_path)}
  assert set(rows) == set(zoo.names())
  assert rows["birdaves_biox_base"]["present"] == "yes"  # the weights file
  assert rows["aves"]["present"] == "yes"  # its ported checkpoint
  assert rows["aves_all"]["present"] == "no" and rows["rn18"]["present"] == "-"
  assert rows["biolingual"] == {
      "id": "biolingual", "family": "clap", "rate": "48 kHz", "window": "10 s", "dim": "512",
      "licence": "not stated (model card)", "weights": "biolingual.bin", "present": "no",
      "tested": "torch"}
  assert rows["rn18p"]["rate"] == "dataset" and rows["rn18p"]["window"] == "any"
  assert rows["rn18p"]["licence"] == "BSD-3-Clause" and rows["mfcc"]["tested"] == "librosa"


def test_list_flag_prints_the_table(tmp_path, capsys):
  if not flags.FLAGS.is_parsed():
    flags.FLAGS.mark_as_parsed()
  with flagsaver.flagsaver(list=True, weights_dir=str(tmp_path)):
    cli.main(["zoo"])
  lines = capsys.readouterr().out.splitlines()
  assert lines[0] == f"weights folder: {tmp_path}"
  assert lines[1].split() == list(listing.COLUMNS)
  assert len(lines) == 2 + len(zoo.names())
  assert any(l.split()[:2] == ["birdaves_biox_large", "hubert"] and "1024" in l for l in lines)
