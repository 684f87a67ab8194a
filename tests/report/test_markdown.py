"""report.md contents: summary tables, bold best per dataset, paper columns."""

import math

import pytest

from bioacoustics_jax.report.markdown import document as markdown
from bioacoustics_jax.report.paper_grid import document as paper_grid
from bioacoustics_jax.report import reference
from bioacoustics_jax.results import store as results

PAPER_CSV = markdown.PAPER_SCORES


# Half-sample offsets shared by every row: paired differences are then constant, i.e. detected
# (evaluate/paired.py); NOISY ones straddle a small difference.
OFFSETS = (0.01, -0.01, 0.02, -0.02)
NOISY = (0.05, -0.06, 0.04, -0.05)


def _row(dataset, model, regime, reducer, clusterer, nmi, ari=0.1, offsets=OFFSETS):
  return dict(n_seeds=5, nmi_sd=0.02, ari_sd=0.02, clips_key=f"clips-{dataset}",
              nmi_halves=" ".join(str(nmi + o) for o in offsets), dataset=dataset, model=model, regime=regime, split="test", reducer=reducer,
              clusterer=clusterer, ari=ari, nmi=nmi, ami=0.2, silhouette=0.05, accuracy=0.3,
              n=50, n_classes=3, n_clusters=3, embedding_dim=1000, seconds=2.0,
              skipped_files=1, status="ok", note="", embed_batch_size=32, umap_n_neighbors=50,
              umap_min_dist=0.5, pca_dim=2, tsne_perplexity=25.0, hdbscan_min_cluster_size=10,
              eval_seed=42, cell_key=f"{dataset}-{model}-{regime}", eval_key="e", run_id="r1")


@pytest.fixture
def results_csv(tmp_path):
  path = str(tmp_path / "results.csv")
  results.append_rows(path, [
      _row("watkins", "rn18", "finetuned", "umap", "kmeans", 0.812345, ari=0.7),
      _row("watkins", "rn18", "finetuned", "pca", "kmeans", 0.4),
      _row("watkins", "alex", "frozen", "umap", "kmeans", 0.6),
      _row("watkins", "alex", "frozen", "pca", "kmeans", 0.45, offsets=NOISY),
      _row("synth_birds", "alex", "frozen", "umap", "kmeans", 0.3),
      _row("synth_birds", "alex", "finetuned", "umap", "kmeans", 0.35),
  ])
  return path


def _lines_with(text, *needles):
  return [line for line in text.splitlines() if all(n in line for n in needles)]


def test_summary_table_and_bold_best(results_csv, tmp_path):
  out = markdown.write_report(results_csv, str(tmp_path / "report.md"))
  text = open(out).read()
  assert "| dataset | model | regime | split | umap+kmeans | pca+kmeans |" in text
  # NMI summary, mean ± sd over seeds: the best per dataset per column is bold only where the
  # paired test detects it (umap: 0.812 vs 0.600; pca: 0.450 vs 0.400 is within the noise).
  nmi_section = text.split("## NMI")[1].split("## ARI")[0]
  assert _lines_with(nmi_section, "watkins", "rn18")[0].endswith(
      "| **0.812 ± 0.020** | 0.400 ± 0.020 |")
  assert _lines_with(nmi_section, "watkins", "alex")[0].endswith(
      "| 0.600 ± 0.020 | 0.450 ± 0.020 |")
  assert _lines_with(nmi_section, "synth_birds", "finetuned")[0].endswith(
      "| **0.350 ± 0.020** |  |")
  # ARI: no half-sample scores, so no paired test and nothing bold.
  assert "**" not in text.split("## ARI")[1].split("## All metrics")[0]
  # All metrics: mean ± sd where there is a spread, nothing bold (no paired test across rows).
  details = text.split("## All metrics")[1]
  assert "**" not in details and "| 0.812 ± 0.020 |" in details
  assert "### synth_birds" in text and "### watkins" in text
  assert "Compared with the paper" not in text


def test_paper_columns_side_by_side(results_csv, tmp_path):
  out = markdown.write_report(results_csv, str(tmp_path / "report.md"), paper_csv=PAPER_CSV)
  paper_section = open(out).read().split("## Compared with the paper")[1]
  lines = _lines_with(paper_section, "| watkins | rn18 |")
  # Paper (50, 0.5): rn18 on watkins ARI 0.841, NMI 0.91, Sil 0.302.
  assert lines == ["| watkins | rn18 | test | (50, 0.5) | 0.700 | 0.841 | -0.141 | 0.812 | 0.910 "
                   "| -0.098 | 0.050 | 0.302 | -0.252 |"]
  assert not _lines_with(paper_section, "synth_birds")  # synthetic names never match
  assert not _lines_with(paper_section, "| alex |")  # frozen runs are not the paper's setting


def _edited_reference(tmp_path, edit):
  lines = open(PAPER_CSV).read().splitlines()
  header = lines[0].split(",")
  out = [lines[0]] + [",".join(edit(header, line.split(","))) for line in lines[1:]]
  path = tmp_path / "reference.csv"
  path.write_text("\n".join(out) + "\n")
  return str(path)


def test_each_row_is_compared_under_its_own_umap_setting_and_a_missing_number_is_na(tmp_path):
  path = str(tmp_path / "results.csv")
  results.append_rows(path, [
      dict(_row("watkins", "rn18", "finetuned", "umap", "kmeans", 0.8), umap_n_neighbors=100),
      dict(_row("watkins", "rn18", "finetuned", "umap", "kmeans", 0.9), umap_min_dist=0.1,
           eval_key="e2"),
      _row("bats", "rn18", "finetuned", "umap", "kmeans", 0.3, ari=0.2)])

  def drop_bats_nmi(header, cells):  # the reference lacks rn18's bats NMI at (50, 0.5)
    if cells[:4] == ["50", "0.5", "npy_rn18", "NMI"]:
      cells[header.index("bats")] = ""
    return cells

  reference = _edited_reference(tmp_path, drop_bats_nmi)
  section = open(markdown.write_report(path, str(tmp_path / "r.md"), paper_csv=reference)
                 ).read().split("## Compared with the paper")[1]
  # (100, 0.5): paper NMI 0.881; (50, 0.1): 0.925 (not the (50, 0.5) numbers 0.910).
  assert _lines_with(section, "| watkins | rn18 | test | (100, 0.5) | 0.100 | 0.750 | -0.650 "
                     "| 0.800 | 0.881 | -0.081 |")
  assert _lines_with(section, "| watkins | rn18 | test | (50, 0.1) | 0.100 | 0.860 | -0.760 "
                     "| 0.900 | 0.925 | -0.025 |")
  # bats ARI is still there (0.235); its NMI is n/a, never 0.
  assert _lines_with(section, "| bats | rn18 | test | (50, 0.5) | 0.200 | 0.235 | -0.035 "
                     "| 0.300 | n/a | n/a |")


def test_one_reader_of_the_reference_serves_every_report():
  ref = reference.read_reference(PAPER_CSV)
  assert markdown.PAPER_SCORES == reference.PAPER_SCORES == paper_grid.PAPER_SCORES
  assert len(ref.models) == 11 and len(ref.datasets) == 10
  assert sorted(ref.values) == [(50, 0.1), (50, 0.5), (100, 0.5)]
  assert ref.get((100, 0.5), "rn18", "watkins", "nmi") == 0.881
  assert math.isnan(ref.get(None, "rn18", "watkins", "nmi"))  # not a UMAP setting


def test_a_bad_reference_names_file_line_and_column(tmp_path):
  bad_metric = _edited_reference(tmp_path, lambda h, c: c[:3] + ["AMI"] + c[4:]
                                 if c[2] == "npy_alex" and c[3] == "NMI" else c)
  with pytest.raises(ValueError, match=r"reference.csv:3: metric 'AMI'"):
    reference.read_reference(bad_metric)
  bad_value = _edited_reference(tmp_path, lambda h, c: c[:4] + ["0x"] + c[5:]
                                if c[2] == "npy_alex" and c[3] == "ARI" and c[0] == "50" else c)
  with pytest.raises(ValueError, match=r"column watkins: '0x' is not a number"):
    reference.read_reference(bad_value)


def test_no_match_message(tmp_path):
  path = str(tmp_path / "r.csv")
  results.append_rows(path, [_row("synth_birds", "alex", "finetuned", "umap", "kmeans", 0.3)])
  text = open(markdown.write_report(path, str(tmp_path / "r.md"), paper_csv=PAPER_CSV)).read()
  assert "nothing to compare" in text


def test_empty_results_fail_clearly(tmp_path):
  with pytest.raises(ValueError, match="no results yet"):
    markdown.write_report(str(tmp_path / "missing.csv"), str(tmp_path / "r.md"))


def test_degenerate_and_small_rows_are_never_bold(tmp_path):
  path = str(tmp_path / "results.csv")
  nan = float("nan")
  results.append_rows(path, [
      _row("watkins", "rn18", "frozen", "umap", "kmeans", 0.5),
      dict(_row("watkins", "alex", "frozen", "umap", "kmeans", 1.0), status="small",
           note="small set: only 8 examples"),
      dict(_row("watkins", "vggish", "frozen", "umap", "kmeans", nan, ari=nan), status="degenerate",
           note="one class in split (a, 4 examples): clustering scores are undefined"),
  ])
  text = open(markdown.write_report(path, str(tmp_path / "r.md"))).read()
  nmi = text.split("## NMI")[1].split("## ARI")[0]
  assert _lines_with(nmi, "| alex |")[0].endswith("| 1.000 ± 0.020 (small) |")
  # alone among eligible: not bold
  assert _lines_with(nmi, "| rn18 |")[0].endswith("| 0.500 ± 0.020 |")
  assert _lines_with(nmi, "| vggish |")[0].endswith("| n/a |")
  assert "**" not in nmi
  assert "one class in split" in text.split("## Notes on the evaluated sets")[1]


def test_report_of_one_run_names_it_and_lists_failures_and_the_appendix(tmp_path):
  path = str(tmp_path / "results.csv")
  results.append_rows(path, [dict(_row("watkins", "rn18", "frozen", "umap", "kmeans", 0.5),
                                  run_id="old"),
                             dict(_row("watkins", "alex", "frozen", "umap", "kmeans", 0.4),
                                  run_id="new")])
  text = open(markdown.write_report(
      path, str(tmp_path / "r.md"), run_id="new",
      failures=[dict(dataset="watkins", model="aves", regime="frozen", error="OSError: x")],
      appendix=["## Data", "", "- skipped (bad audio): wav/bad.wav: empty file"])).read()
  assert "run `new`" in text and "| rn18 |" not in text and "| alex |" in text
  assert "| watkins | aves | frozen | OSError: x |" in text
  assert text.rstrip().endswith("- skipped (bad audio): wav/bad.wav: empty file")
