"""report.md: the probe/kNN table per dataset, and bold only beyond the interval."""

from __future__ import annotations

import csv
import math

from bioacoustics_jax.report.markdown import document as markdown
from bioacoustics_jax.results import store as results

COLUMNS = ("dataset", "model", "regime", "split", "task", "setting", "metric", "value", "lo",
           "hi", "n_train", "n_test", "n_classes", "embedding_dim", "seconds", "skipped")


def _probe(model, task, setting, metric, value, half, skipped="", dataset="watkins"):
  return dict(dataset=dataset, model=model, regime="frozen", split="test", task=task,
              setting=setting, metric=metric, value=value, lo=value - half, hi=value + half,
              n_train=100, n_test=50, n_classes=3, embedding_dim=40, seconds=1.0,
              skipped=skipped)


def _write(path, rows):
  with open(path, "w", newline="") as f:
    writer = csv.DictWriter(f, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
  return path


def test_bold_only_beyond_the_interval():
  # 0.9 +- 0.02 is beyond 0.8 +- 0.05; 0.82 +- 0.05 overlaps 0.8 +- 0.05: nothing bold.
  assert markdown._bold_best([0.9, 0.8], [(0.88, 0.92), (0.75, 0.85)]) == [
      "**0.900 ± 0.020**", "0.800 ± 0.050"]
  assert markdown._bold_best([0.82, 0.8], [(0.77, 0.87), (0.75, 0.85)]) == [
      "0.820 ± 0.050", "0.800 ± 0.050"]
  # Without intervals the old rule holds (bold the maximum).
  assert markdown._bold_best([0.82, 0.8]) == ["**0.820**", "0.800"]
  assert markdown._bold_best([0.82, None, math.nan], [(0.8, 0.84), None, None])[0] == (
      "0.820 ± 0.020")


def test_probe_table_per_dataset_with_mfcc_row_and_skips(tmp_path):
  results_csv = str(tmp_path / "results.csv")
  results.append_rows(results_csv, [dict(
      dataset="watkins", model="rn18", regime="frozen", split="test", reducer="pca",
      clusterer="kmeans", ari=0.1, nmi=0.2, ami=0.2, silhouette=0.1, accuracy=0.3, n=50,
      n_classes=3, n_clusters=3, embedding_dim=512, seconds=1.0, skipped_files=0, status="ok",
      note="", embed_batch_size=32, umap_n_neighbors=50, umap_min_dist=0.5, pca_dim=2,
      tsne_perplexity=25.0, hdbscan_min_cluster_size=10, eval_seed=42, cell_key="k",
      eval_key="e", run_id="r")])
  probes_csv = _write(str(tmp_path / "probes.csv"), [
      _probe("rn18", "linear_probe", "", "accuracy", 0.9, 0.02),
      _probe("mfcc", "linear_probe", "", "accuracy", 0.7, 0.03),
      _probe("rn18", "knn", "k=5", "precision_at_k", 0.8, 0.05),
      _probe("mfcc", "knn", "k=5", "precision_at_k", 0.78, 0.05),
      _probe("rn18", "fewshot", "n=5", "accuracy", math.nan, math.nan,
             skipped="classes with fewer than 5 train examples: ['c2']"),
      _probe("mfcc", "fewshot", "n=5", "accuracy", 0.5, 0.1),
      _probe("rn18", "linear_probe", "", "map", 0.6, 0.01, dataset="dcase"),
  ])
  text = open(markdown.write_report(results_csv, str(tmp_path / "report.md"),
                                    probes_csv=probes_csv)).read()
  section = text.split("## Linear probe, kNN retrieval and few-shot")[1]
  watkins = section.split("### watkins")[1].split("### dcase")[0]
  assert "| model | regime | split | probe acc | kNN P@5 | 5-shot acc |" in watkins
  assert "| rn18 | frozen | test | **0.900 ± 0.020** | 0.800 ± 0.050 | skipped |" in watkins
  assert ("| mfcc (handcrafted MFCC baseline) | frozen | test | 0.700 ± 0.030 | 0.780 ± 0.050 "
          "| 0.500 ± 0.100 |") in watkins
  assert "- rn18/frozen/test 5-shot acc: classes with fewer than 5 train examples" in watkins
  assert "| rn18 | frozen | test | 0.600 ± 0.010 |" in section.split("### dcase")[1]
  # No probes file: no section (and a missing file is no error).
  assert "Linear probe" not in open(markdown.write_report(
      results_csv, str(tmp_path / "r2.md"), probes_csv=str(tmp_path / "none.csv"))).read()
