"""report.md contents: summary tables, bold best per dataset, paper columns."""

import pytest

from bioacoustics_jax.report import markdown
from bioacoustics_jax.report import results

PAPER_CSV = markdown.PAPER_SCORES


def _row(dataset, model, regime, reducer, clusterer, nmi, ari=0.1):
  return dict(dataset=dataset, model=model, regime=regime, split="test", reducer=reducer,
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
      _row("watkins", "alex", "frozen", "pca", "kmeans", 0.45),
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
  # NMI summary: best per dataset per column is bold, the others are not.
  nmi_section = text.split("## NMI")[1].split("## ARI")[0]
  assert _lines_with(nmi_section, "watkins", "rn18")[0].endswith("| **0.812** | 0.400 |")
  assert _lines_with(nmi_section, "watkins", "alex")[0].endswith("| 0.600 | **0.450** |")
  assert _lines_with(nmi_section, "synth_birds", "finetuned")[0].endswith("| **0.350** |  |")
  assert "### synth_birds" in text and "### watkins" in text
  assert "Compared with the paper" not in text


def test_paper_columns_side_by_side(results_csv, tmp_path):
  out = markdown.write_report(results_csv, str(tmp_path / "report.md"), paper_csv=PAPER_CSV)
  paper_section = open(out).read().split("## Compared with the paper")[1]
  lines = _lines_with(paper_section, "| watkins | rn18 |")
  # Paper (50, 0.5): rn18 on watkins ARI 0.841, NMI 0.91, Sil 0.302.
  assert lines == ["| watkins | rn18 | test | 0.700 | 0.841 | 0.812 | 0.910 | 0.050 | 0.302 |"]
  assert not _lines_with(paper_section, "synth_birds")  # synthetic names never match
  assert not _lines_with(paper_section, "| alex |")  # frozen runs are not the paper's setting


def test_paper_settings_and_no_match_message(tmp_path):
  scores = markdown.read_paper_scores(PAPER_CSV, n_neighbors=100, min_dist=0.5)
  assert len({m for _, m, _ in scores}) == 11
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
  assert _lines_with(nmi, "| alex |")[0].endswith("| 1.000 (small) |")
  assert _lines_with(nmi, "| rn18 |")[0].endswith("| 0.500 |")  # alone among eligible: not bold
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
