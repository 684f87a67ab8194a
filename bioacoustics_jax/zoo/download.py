"""Pretrained weights onto disk, only when a person asks: `python -m bioacoustics_jax.zoo
--download=MODEL` (or `--download=paper`, the paper's model set).

A run never downloads (porting/load.py names this command when a file is missing). The command
fetches the preset's `weights_url` with the standard library into `<file>.part` beside its final
name, resumes a `.part` left by an earlier try with an HTTP Range request, checks the sha256, and
only then renames it: a file under the final name is always complete and checked. The digest is
the presets table's `sha256` where a public source states the whole digest; else, for
torchvision's files, the first 8 hex digits that torchvision writes into the file name
(`resnet18-f37072fd.pth`, the prefix torch.hub's `check_hash` tests); else nothing to check, and
the command says so and prints the digest it got.
"""

from __future__ import annotations

import dataclasses
import hashlib
import http.client
import os
import pathlib
import re
import sys
import time
import urllib.error
import urllib.request

from tqdm import tqdm

from bioacoustics_jax.zoo import presets
from bioacoustics_jax.zoo.preset import Preset

# torchvision names its files `<arch>-<first 8 hex digits of the sha256>.pth`.
_TORCHVISION_URL = "https://download.pytorch.org/models/"
_NAME_PREFIX = re.compile(r"-([0-9a-f]{8})\.pth$")
# `--download=` names that stand for a model set, computed from the presets table.
MODEL_SETS = {"paper": lambda: presets.PAPER_MODELS}
_CHUNK = 1 << 16


class DownloadError(RuntimeError):
  """A download failed or did not verify; the message says what to do next."""


@dataclasses.dataclass(frozen=True)
class Checksum:
  """What a download must hash to: the whole sha256 or a prefix of it, and where it came from."""
  digest: str
  source: str

  @property
  def whole(self) -> bool:
    return len(self.digest) == 64

  def matches(self, actual: str) -> bool:
    return actual.startswith(self.digest)


@dataclasses.dataclass(frozen=True)
class Result:
  """One model's outcome: the file, its sha256, and how it was checked (None: not checked)."""
  model: str
  path: pathlib.Path
  sha256: str
  checksum: Checksum | None
  fetched: bool  # False: the file was already there (and was checked)


def expected_checksum(preset: Preset) -> Checksum | None:
  """The preset's recorded sha256, else torchvision's 8-digit file-name prefix, else None."""
  if preset.sha256:
    return Checksum(preset.sha256, "the presets table")
  match = _NAME_PREFIX.search(preset.weights or "")
  if match and (preset.weights_url or "").startswith(_TORCHVISION_URL):
    return Checksum(match.group(1), "the first 8 digits in torchvision's file name; the whole "
                                    "digest is not recorded")
  return None


def sha256_of(path: str | os.PathLike) -> str:
  digest = hashlib.sha256()
  with open(path, "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
      digest.update(block)
  return digest.hexdigest()


def _transfer(url: str, part: pathlib.Path, progress: bool, timeout: float) -> None:
  """Appends the rest of `url` to `part` (a Range request when `part` holds bytes already).
  Raises OSError / HTTPException when the connection drops or the body ends short."""
  have = part.stat().st_size if part.exists() else 0
  headers = {"Range": f"bytes={have}-"} if have else {}
  try:
    response = urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                      timeout=timeout)
  except urllib.error.HTTPError as e:
    # 416: nothing after byte `have`. The .part is whole if its size is the server's size; a
    # longer or different one is discarded and fetched again.
    total = (e.headers.get("Content-Range") or "").rpartition("/")[2]
    if e.code == 416 and have and total.isdigit() and int(total) == have:
      return
    if e.code == 416:
      part.unlink(missing_ok=True)
      raise ConnectionError(f"the server refused to resume at byte {have}; starting again")
    raise
  with response:
    resumed = response.status == 206
    if resumed and not (response.headers.get("Content-Range") or "").startswith(
        f"bytes {have}-"):
      raise DownloadError(f"{url}: the server resumed at another byte than asked "
                          f"({response.headers.get('Content-Range')!r}, asked {have}-).")
    start = have if resumed else 0  # a 200 answer is the whole file again
    length = response.headers.get("Content-Length")
    total = start + int(length) if length is not None else None
    with open(part, "ab" if resumed else "wb") as f, tqdm(
        total=total, initial=start, unit="B", unit_scale=True, unit_divisor=1024,
        desc=part.name[:-len(".part")], disable=not progress, file=sys.stderr,
        leave=True) as bar:
      while block := response.read(_CHUNK):
        f.write(block)
        bar.update(len(block))
  size = part.stat().st_size
  if total is not None and size < total:
    raise ConnectionError(f"the connection closed after {size:,} of {total:,} bytes")


def fetch(url: str, dest: str | os.PathLike, checksum: Checksum | None, *,
          progress: bool = True, retries: int = 3, timeout: float = 60.0,
          backoff_s: float = 2.0) -> str:
  """Downloads `url` to `dest` through `dest.part`, resuming after a dropped connection (up
  to `retries` more tries here; a later call resumes the same `.part`), verifies `checksum`
  and renames. Returns the sha256. A wrong checksum deletes the `.part` and raises."""
  dest = pathlib.Path(dest)
  part = dest.with_name(dest.name + ".part")
  dest.parent.mkdir(parents=True, exist_ok=True)
  for attempt in range(retries + 1):
    try:
      _transfer(url, part, progress, timeout)
      break
    except urllib.error.HTTPError as e:
      raise DownloadError(f"{url}: HTTP {e.code} {e.reason}. Nothing was written to "
                          f"{dest}.") from e
    except (OSError, http.client.HTTPException) as e:  # URLError, resets, timeouts, short bodies
      kept = part.stat().st_size if part.exists() else 0
      if attempt == retries:
        raise DownloadError(
            f"{url}: {getattr(e, 'reason', None) or e} ({attempt + 1} tries). {kept:,} bytes "
            f"are kept in {part}; run the same command again to resume.") from e
      print(f"{dest.name}: {e}; resuming at byte {kept:,} (try {attempt + 2}/{retries + 1})",
            file=sys.stderr)
      time.sleep(backoff_s * (attempt + 1))
  digest = sha256_of(part)
  if checksum is not None and not checksum.matches(digest):
    part.unlink()
    raise DownloadError(
        f"{dest.name}: the download's sha256 is {digest}, not {checksum.digest} "
        f"({checksum.source}); it was deleted, nothing is under {dest}. Check the URL {url} "
        "(the server may now serve another file).")
  os.replace(part, dest)
  return digest


def models_to_download(spec: str) -> list[str]:
  """`--download=` value -> model names: names and sets (`paper`), joined by `+` or `,`,
  each model once. An unknown name lists the known ones."""
  out: list[str] = []
  for name in filter(None, re.split(r"[+,]", spec)):
    for model in MODEL_SETS[name]() if name in MODEL_SETS else (name,):
      presets.get_preset(model)  # unknown -> KeyError listing the known models
      if model not in out:
        out.append(model)
  if not out:
    raise ValueError(f"--download={spec!r} names no model; give a model id or one of "
                     f"{sorted(MODEL_SETS)}.")
  return out


def download_model(preset: Preset, weights_dir: pathlib.Path, *, progress: bool = True,
                   **fetch_kwargs) -> Result | None:
  """Fetches the preset's weights file into `weights_dir` unless it is there already; a file
  already there is checked too. None for a random-init model (nothing to fetch)."""
  name = preset.name
  if not preset.weights:
    return None
  if not preset.weights_url:
    raise DownloadError(f"Model {name!r} names no URL for {preset.weights!r}; put the file in "
                        f"{weights_dir}/ by hand.")
  checksum = expected_checksum(preset)
  dest = weights_dir / preset.weights
  if dest.is_file():
    digest = sha256_of(dest)
    if checksum is not None and not checksum.matches(digest):
      raise DownloadError(
          f"{dest} is already there but its sha256 is {digest}, not {checksum.digest} "
          f"({checksum.source}); delete it and run the command again to fetch it.")
    return Result(name, dest, digest, checksum, fetched=False)
  digest = fetch(preset.weights_url, dest, checksum, progress=progress, **fetch_kwargs)
  return Result(name, dest, digest, checksum, fetched=True)


def describe(result: Result) -> str:
  """One line per model for the console."""
  what = "fetched" if result.fetched else "already there"
  if result.checksum is None:
    return (f"{result.model}: {what}: {result.path} (NOT verified: no sha256 is recorded for "
            f"this file; its sha256 is {result.sha256})")
  how = "sha256 matches" if result.checksum.whole else (
      f"sha256 starts with {result.checksum.digest} as its file name says; the whole digest "
      "is not recorded")
  return f"{result.model}: {what}: {result.path} ({how})"


def download(spec: str, weights_dir: pathlib.Path, *, progress: bool = True,
             **fetch_kwargs) -> list[Result]:
  """The `--download=` command: every named model's file, one line each; the first failure
  stops the command with its message."""
  results = []
  seen: set[str] = set()
  for name in models_to_download(spec):
    preset = presets.get_preset(name)
    if not preset.weights:
      print(f"{name}: random init, nothing to download")
      continue
    if preset.weights in seen:  # e.g. `swin` and `swin_s` share one file
      continue
    seen.add(preset.weights)
    result = download_model(preset, weights_dir, progress=progress, **fetch_kwargs)
    print(describe(result), flush=True)
    results.append(result)
  return results
