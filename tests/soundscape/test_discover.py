"""Discovery: clusters recover the planted call kinds; the UMAP map keeps them apart; csv, Raven
tables and the offline page, which loads in headless Chromium with its images and audio."""

import collections
import csv
import html.parser
import os

import numpy as np
import pytest

from bioacoustics_jax.data import annotations
from bioacoustics_jax.soundscape import discover
from tests.report import browser_check


class _Elements(html.parser.HTMLParser):
  def __init__(self):
    super().__init__()
    self.found = collections.defaultdict(list)

  def handle_starttag(self, tag, attrs):
    self.found[tag].append(dict(attrs))


@pytest.fixture(scope="module")
def discovered(archived, tmp_path_factory):
  """The planted store discovered once: 4 clusters, 3 examples each, the map's UMAP fitted on
  40 of the 60 windows. Returns (planted calls, output folder, page, windows.csv rows)."""
  _, calls, store = archived
  out = str(tmp_path_factory.mktemp("discover"))
  page = discover.discover(store, out, clusters=4, examples=3, map_sample=40)
  return calls, out, page, list(csv.DictReader(open(os.path.join(out, "windows.csv"))))


def test_clusters_csv_raven_tables_and_page(discovered):
  calls, out, page, rows = discovered
  assert len(rows) == 60
  assert list(rows[0]) == ["recording", "start", "end", "cluster", "x", "y", "label"]
  # 3 kinds of planted call + quiet noise, 4 clusters: each kind is one cluster, noise another
  kind_of = {(c["recording"], float(np.floor(c["start"]))): c["kind"] for c in calls}
  groups = collections.defaultdict(set)
  for r in rows:
    kind = kind_of.get((r["recording"], float(r["start"])), "")
    groups[kind or "noise"].add(r["cluster"])
    assert r["label"] == kind  # from the Raven tables and csvs beside the audio
  assert all(len(g) == 1 for g in groups.values()), dict(groups)
  assert len(set.union(*groups.values())) == 4

  # Raven tables read back by the suite's own Raven reader: every window with its cluster
  for recording in ("rec000.wav", "rec002.wav"):
    table = os.path.join(out, "raven", discover.raven_name(recording))
    want = [(float(r["start"]), float(r["end"]), f"c{r['cluster']}") for r in rows
            if r["recording"] == recording]
    assert annotations.is_raven_table(table)
    assert annotations.read_raven(table) == want

  parser = _Elements()
  parser.feed(open(page).read())
  images, audio = parser.found["img"], parser.found["audio"]
  sizes = collections.Counter(r["cluster"] for r in rows)
  assert len(images) == len(audio) == sum(min(3, n) for n in sizes.values())
  assert all(i["src"].startswith("data:image/png;base64,") for i in images)
  assert all(a["src"].startswith("data:audio/wav;base64,") for a in audio)
  links = [a.get("src") or a.get("href") or "" for tag in parser.found.values() for a in tag]
  assert not [u for u in links if u.startswith(("http:", "https:", "//", "file:"))]
  assert len(parser.found["svg"]) == 1 + 4  # the map and one time strip per cluster
  assert {h["id"] for h in parser.found["h2"] if "id" in h} == {"c0", "c1", "c2", "c3"}


def _kinds(calls, rows):
  kind_of = {(c["recording"], float(np.floor(c["start"]))): c["kind"] for c in calls}
  return [kind_of.get((r["recording"], float(r["start"])), "noise") for r in rows]


def test_map_is_umap_on_the_stated_sample_and_keeps_the_kinds_apart(discovered):
  calls, _, page, rows = discovered
  xy = np.array([(float(r["x"]), float(r["y"])) for r in rows])
  assert np.isfinite(xy).all() and len(np.unique(xy, axis=0)) > 50
  kinds = np.array(_kinds(calls, rows))
  # every window's nearest neighbour on the map (sampled or transformed) is of its own kind
  distance = np.linalg.norm(xy[:, None] - xy[None], axis=-1) + np.diag(np.full(len(xy), np.inf))
  same = kinds[distance.argmin(1)] == kinds
  assert same.mean() >= 0.95, dict(zip(kinds[~same], kinds[distance.argmin(1)][~same]))
  assert "UMAP of the 32 principal components, fitted on a seeded sample of 40 of the 60" in \
      open(page).read()


def test_page_loads_in_headless_chromium_with_its_images_and_audio(discovered, chromium):
  del chromium  # the fixture fails (with the fix) when no Chromium is installed
  _, _, page, rows = discovered
  found = browser_check.check(page)
  shown = sum(min(3, n) for n in collections.Counter(r["cluster"] for r in rows).values())
  assert found["errors"] == [] and found["external"] == []
  assert found["images"] == shown and found["broken"] == []  # every thumbnail decoded
  assert found["audio"] == shown
  # every snippet's WAV decoded by the browser: one 1 s window each
  assert [p.get("error") for p in found["players"]] == [None] * shown
  np.testing.assert_allclose([p["duration"] for p in found["players"]], 1.0, atol=1e-3)
