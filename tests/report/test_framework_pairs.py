"""The JAX-vs-PyTorch pair table and the speed section of report.md, from results.csv rows."""

import math

from bioacoustics_jax.report.markdown import framework_pairs
from bioacoustics_jax.report.markdown import document as markdown
from bioacoustics_jax.results import store as results


def _row(model, nmi, ari, sd, speed, status="ok", clusterer="kmeans", seeds=5, halves=()):
  return dict(dataset="synth_birds", model=model, regime="frozen", split="test", reducer="pca",
              clusterer=clusterer, ari=ari, nmi=nmi, ami=0.2, silhouette=0.1, accuracy=0.5,
              n=40, n_classes=4, n_clusters=4, embedding_dim=1000, seconds=0.5,
              skipped_files=0, status=status, note="", embed_batch_size=32,
              umap_n_neighbors=50, umap_min_dist=0.5, pca_dim=2, tsne_perplexity=25.0,
              hdbscan_min_cluster_size=10, eval_seed=42, n_seeds=seeds, ari_sd=sd, nmi_sd=sd,
              framework="torch" if model.startswith("torch:") else "jax", device_kind="cpu",
              device_count=1, dtype="float32", train_dtype="", extract_examples_per_s=speed,
              extract_compile_s=0.5, train_examples_per_s=math.nan, train_epoch_s=math.nan,
              wall_s=3.0, cell_key=f"key-{model}", eval_key="e", run_id="r",
              clips_key="clips" if halves else "", nmi_halves=" ".join(map(str, halves)))


# Half-sample NMI of each twin (evaluate/paired.py pairs them): kmeans' differences straddle 0,
# hdbscan's are all far above it.
KMEANS_JAX, KMEANS_TORCH = (0.62, 0.55, 0.64, 0.58), (0.55, 0.6, 0.52, 0.57)
HDBSCAN_JAX, HDBSCAN_TORCH = (0.9, 0.88, 0.91, 0.89), (0.5, 0.52, 0.49, 0.51)


def test_pairs_differences_noise_and_speed_ratio(tmp_path):
  rows = [_row("rn18", 0.60, 0.40, 0.03, 120.0, halves=KMEANS_JAX),
          _row("torch:rn18", 0.55, 0.42, 0.04, 60.0, halves=KMEANS_TORCH),
          _row("rn18", 0.90, 0.8, 0.01, 120.0, clusterer="hdbscan", halves=HDBSCAN_JAX),
          _row("torch:rn18", 0.50, 0.4, 0.01, 60.0, clusterer="hdbscan", halves=HDBSCAN_TORCH),
          _row("alex", 0.3, 0.2, 0.01, 50.0),  # no torch twin: no pair
          _row("vgg", 1.0, 1.0, 0.0, 10.0, status="small"),
          _row("torch:vgg", 1.0, 1.0, 0.0, 20.0, status="small")]
  pairs = {(p["model"], p["clusterer"]): p for p in framework_pairs.pair_rows(rows)}
  assert set(pairs) == {("rn18", "kmeans"), ("rn18", "hdbscan"), ("vgg", "kmeans")}
  kmeans = pairs["rn18", "kmeans"]
  assert math.isclose(kmeans["nmi_diff"], 0.05) and math.isclose(kmeans["ari_diff"], -0.02)
  assert math.isclose(kmeans["nmi_noise"], 0.05)  # hypot(0.03, 0.04)
  assert math.isclose(kmeans["extract_examples_per_s_ratio"], 2.0)
  assert math.isnan(kmeans["train_examples_per_s_ratio"])
  # The verdict is the paired test's, never a rule on the seed noise alone.
  assert kmeans["verdict"] == "no detectable difference"
  assert kmeans["nmi_diff_lo"] < 0 < kmeans["nmi_diff_hi"]
  assert pairs["rn18", "hdbscan"]["verdict"] == "JAX better"
  assert pairs["rn18", "hdbscan"]["nmi_diff_lo"] > 0
  assert pairs["vgg", "kmeans"]["verdict"].startswith("not comparable")
  one_seed = framework_pairs.pair_rows([_row("rn18", 0.6, 0.4, math.nan, 1.0, seeds=1),
                                        _row("torch:rn18", 0.5, 0.4, math.nan, 1.0, seeds=1)])
  assert one_seed[0]["verdict"].startswith("not paired: not the same clips")

  csv_path = str(tmp_path / "results.csv")
  results.append_rows(csv_path, rows)
  text = open(markdown.write_report(csv_path, str(tmp_path / "report.md"))).read()
  assert "## JAX vs PyTorch" in text and "## Speed" in text
  lo, hi = kmeans["nmi_diff_lo"], kmeans["nmi_diff_hi"]
  assert (f"| synth_birds | rn18 | frozen | pca+kmeans | 0.600 | 0.550 | +0.050 | [{lo:+.3f}, "
          f"{hi:+.3f}] | 0.050 | -0.020 | 2.00 | n/a | no detectable difference |") in text
  assert "| synth_birds | torch:rn18 | frozen | torch | cpu x1 | float32 | 60.0 | 0.50 | n/a | n/a | 3.0 |" in text
  # Bold only where the paired test detects the best: hdbscan's JAX row beats its twin (mean ±
  # sd over seeds); kmeans' rows show no detectable difference, so nothing is bold there.
  assert "**0.900 ± 0.010**" in text and "**0.600" not in text and "0.600 ± 0.030" in text
