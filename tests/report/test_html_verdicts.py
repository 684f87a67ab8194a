"""report.html's score tables from results rows alone (no evaluator: rows with half-sample NMI /
ARI, as evaluate/paired.py reads them), read back as a reader sees them (html_tables.py):
mean ± sd on every score, a best highlighted and a delta coloured only where the paired test
detects it, and the reader catches a page that breaks any of these."""

from bioacoustics_jax.report.html import score_tables
from tests.report import html_tables

# Offsets of the halves around a row's score: equal offsets make every paired difference
# constant (detected); NOISY ones straddle a small difference.
STEADY = (0.01, -0.01, 0.02, -0.02)
NOISY = (0.06, -0.07, 0.05, -0.06)


def _row(dataset, model, regime, nmi, offsets=STEADY):
  halves = " ".join(str(nmi + o) for o in offsets)
  return dict(trial="", dataset=dataset, model=model, regime=regime, split="test",
              reducer="pca", clusterer="kmeans", nmi=nmi, ari=nmi - 0.1, ami=0.2,
              silhouette=0.1, accuracy=0.5, n=60, n_classes=3, n_clusters=3,
              embedding_dim=16, seconds=1.0, skipped_files=0, n_seeds=5, nmi_sd=0.012,
              ari_sd=0.02, nmi_lo=nmi - 0.05, nmi_hi=nmi + 0.05, ari_lo=nmi - 0.15,
              ari_hi=nmi - 0.05, nmi_halves=halves, ari_halves="", clips_key=f"c-{dataset}",
              eval_key="e", eval_seed=42)


ROWS = [_row("birds", "rn18", "frozen", 0.5), _row("birds", "rn18", "finetuned", 0.8),
        _row("bats", "rn18", "frozen", 0.60), _row("bats", "rn18", "finetuned", 0.62, NOISY)]


def _page(rows):
  pair = score_tables.headline_pair(rows)
  return (score_tables.overview(rows, {}, pair) + score_tables.scores(rows, {})
          + score_tables.deltas(rows))


def test_highlights_and_colours_follow_the_paired_test():
  cells = html_tables.score_cells(_page(ROWS))
  assert html_tables.problems(cells) == []
  overview = {(c.keys, c.column.split(" (")[0]): c for c in cells
              if c.table == "overview-table"}
  # birds: fine-tuned detected better (highlighted); bats: 0.62 vs 0.60 is within the noise.
  assert overview[("rn18", "finetuned"), "birds"].css == "best"
  assert {c.css for k, c in overview.items() if k != (("rn18", "finetuned"), "birds")} == {""}
  assert overview[("rn18", "finetuned"), "birds"].spread == "± 0.012"
  deltas = {(c.keys[0], c.column): c for c in cells if c.table == "deltas-table"}
  assert deltas["birds", "NMI delta"].css == "up" and deltas["birds", "NMI delta"].interval
  assert deltas["bats", "NMI delta"].css == ""
  lo, hi = deltas["bats", "NMI delta"].interval
  assert lo < 0 < hi
  # ARI rows carry no halves: no paired test, no interval, no colour.
  assert deltas["birds", "ARI delta"].css == "" and deltas["birds", "ARI delta"].interval is None
  assert deltas["birds", "NMI tuned"].spread == "± 0.012"


def test_one_seed_says_so():
  rows = [dict(r, n_seeds=1, nmi_sd=float("nan"), ari_sd=float("nan")) for r in ROWS]
  cells = html_tables.score_cells(_page(rows))
  assert html_tables.problems(cells) == []
  assert {c.spread for c in cells if c.column == "NMI"} == {"(1 seed)"}


def test_the_reader_catches_a_page_that_overstates():
  page = _page(ROWS)
  # An interval that misses its estimate, a score without its spread, a colour without a test.
  broken = (page.replace("[0.750, 0.850]", "[0.810, 0.850]", 1)
            .replace('<span class="sd">± 0.012</span>', "", 1)
            .replace('<td data-v="0.020000000000000018">', '<td class="up" data-v="0.02">', 1))
  found = html_tables.problems(html_tables.score_cells(broken))
  assert len(found) == 3, found
  assert any("excludes the estimate" in f for f in found)
  assert any("no seed spread" in f for f in found)
  assert any("coloured 'up'" in f for f in found)


def test_a_sweep_overview_pairs_trials_of_other_settings_on_their_shared_halves():
  # Two trials of other evaluator settings (eval keys) on the same clips, halves and seeds.
  rows = [dict(_row("birds", "rn18", "frozen", 0.5), trial="000_min_dist=0.1", eval_key="e1"),
          dict(_row("birds", "rn18", "frozen", 0.8), trial="001_min_dist=0.5", eval_key="e2")]
  cells = html_tables.score_cells(_page(rows))
  assert html_tables.problems(cells) == []
  best = [c.keys for c in cells if c.table == "overview-table" and c.css == "best"]
  assert best == [("001_min_dist=0.5", "rn18", "frozen")]
  rows[1]["eval_seed"] = 7  # other halves: no paired test, no highlight
  cells = html_tables.score_cells(_page(rows))
  assert not [c for c in cells if c.css == "best"]
