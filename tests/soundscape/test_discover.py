"""Discovery: clusters recover the planted call kinds; csv, Raven tables and the offline page."""

import collections
import csv
import html.parser
import os

import numpy as np

from bioacoustics_jax.data import annotations
from bioacoustics_jax.soundscape import discover


class _Elements(html.parser.HTMLParser):
  def __init__(self):
    super().__init__()
    self.found = collections.defaultdict(list)

  def handle_starttag(self, tag, attrs):
    self.found[tag].append(dict(attrs))


def test_clusters_csv_raven_tables_and_page(archived, tmp_path):
  root, calls, store = archived
  out = str(tmp_path / "discover")
  page = discover.discover(store, out, clusters=4, examples=3)
  rows = list(csv.DictReader(open(os.path.join(out, "windows.csv"))))
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
