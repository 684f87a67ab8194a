r"""The paper's benchmark on real BEANS data, the whole grid in one command.

11 backbones x 10 BEANS datasets x {frozen, fine-tuned} x {all windows, fewer background
(detection sets)}; every cell's embeddings are computed once and evaluated under every reducer
setting of the paper's notebooks: UMAP (n_neighbors, min_dist) = (50, 0.5), (50, 0.1), (100, 0.5)
and t-SNE perplexity 25 and 100 (init="random", 5000 iterations, learning_rate="auto"), each
followed by k-means (k = number of labels, seed 42).

BEANS cannot be downloaded here; run BEANS' own download scripts (github earthspecies/beans) so
that `<root>/<dataset>/annotations.*.csv` / `*.jsonl` exist, put the PyTorch weight files in
$BIOACOUSTICS_JAX_WEIGHTS (a missing one is reported with its URL), then:

  python -m launch.run --config=experiments/configs/beans_paper.py:root=/data/beans \
      --workdir=workdir/beans_paper

A root that lacks some of the ten datasets stops at once, naming them; run the others with
`:datasets=watkins+dcase`. Subsets of the grid: `:models=` (zoo names and the sets `paper`, the
default, `extended`, the newer backbones of EXTENDED_MODELS: `models=paper+extended`, and
`bioacoustic`, every preset with weights trained on animal sounds),
`:regimes=`, `:grid=` (the reducer
settings, names of GRID below, e.g. `grid=umap50_05+tsne25`), `:backgrounds=all`,
`:paper_mode=false` (our defaults instead of BEANS' rules, see PAPER_MODE), `:labels=exact`
(labels that differ in case or leading zeros stay apart; by default they merge, with a warning).

The same grid as a Ray Tune sweep (a local Ray, or a cluster with --ray_address=HOST:PORT): one
trial per dataset x model, each with the whole reducer grid, so every embedding is still
computed once; then one paper report over every trial:

  python -m launch.sweep --config=experiments/configs/beans_paper.py:root=/data/beans \
      --workdir=workdir/beans_paper_sweep
  python -m bioacoustics_jax.report.paper_grid workdir/beans_paper_sweep/runs/*/results.csv \
      --out=workdir/beans_paper_sweep

paper_report.md (report/paper_grid/) holds Table I (t-SNE NMI), one table per UMAP setting
beside the paper's numbers (ours, paper, ours - paper), frozen vs fine-tuned and fewer-background
deltas, the three claims with a verdict each, and the figures.
"""

import os

import ml_collections

from bioacoustics_jax.data import catalog
from bioacoustics_jax.train.config import default_train_config
from bioacoustics_jax.zoo import presets
from experiments.configs import common

PAPER_MODELS = presets.PAPER_MODELS
# Beyond the paper's 11 (issue 18): today's encoders, pretrained, by preset name.
EXTENDED_MODELS = ("efficientnet_b1p", "efficientnet_b3p", "convnext_tinyp", "vit_b_16p", "cnn14",
                   "wav2vec2_base", "wavlm_base_plus", "data2vec_audio_base", "whisper_base",
                   "clap_htsat")
# Every model with weights trained on animal sounds, computed from the presets' `bioacoustic`
# flag (AVES, BirdAVES, BioLingual, ... and any preset added later with the flag).
BIOACOUSTIC_MODELS = presets.bioacoustic_models()
MODEL_SETS = {"paper": PAPER_MODELS, "extended": EXTENDED_MODELS,
              "bioacoustic": BIOACOUSTIC_MODELS}
# The smoke grid: random-init twins (same architecture, no weights file) at tiny widths. Its
# default pair is the cheapest to compile that covers both regimes: AlexNet (fine-tuned and
# frozen) and the parameter-free MFCC baseline (frozen).
SMOKE_MODELS = ("alexnet", "mfcc")
SMOKE_TWINS = {"alex": "alexnet", "rn18p": "rn18", "rn50p": "rn50", "rn152p": "rn152",
               "rn18": "rn18", "rn50": "rn50", "rn152": "rn152", "mfcc": "mfcc",
               "efficientnet_b1p": "efficientnet_b1", "efficientnet_b3p": "efficientnet_b3",
               "convnext_tinyp": "convnext_tiny", "vit_b_16p": "vit_b_16", "cnn14": "cnn14_random"}
# The animal-sound models' twins, computed (presets.random_init_twin), where cheap: a twin of a
# family the grid above already runs at SMOKE_OVERRIDES' tiny widths (BirdSet's ConvNeXt; the
# HuBERT family has no random-init preset, and CLAP's HTS-AT takes none of those overrides).
_SMOKE_FAMILIES = {presets.get_preset(t).family for t in SMOKE_TWINS.values()}
SMOKE_TWINS.update({m: t for m in BIOACOUSTIC_MODELS if (t := presets.random_init_twin(m))
                    and presets.get_preset(t).family in _SMOKE_FAMILIES})
# One dict for every smoke model: each model takes the keys its module has (grid.py drops
# the others with a warning).
SMOKE_OVERRIDES = dict(width=4, hidden=16, width_mult=0.25, depth_mult=0.3, dims=(8, 16),
                       depths=(1, 1), patch_size=56, num_layers=1, num_heads=2, hidden_dim=16,
                       mlp_dim=32)
BEANS_DATASETS = tuple(catalog.BEANS_ROSTER)  # watkins, bats, cbi, ..., hainan-gibbons

# The notebook's t-SNE call: TSNE(n_components=2, perplexity=p, init='random', n_iter=5000,
# learning_rate='auto') (sklearn >= 1.5 names n_iter max_iter).
TSNE_NOTEBOOK = dict(tsne_init="random", tsne_max_iter=5000, tsne_learning_rate="auto")
# The reducer settings of the grid: name -> overrides of config.evaluate (k-means after each).
GRID = {
    "umap50_05": dict(reducers=("umap",), umap_n_neighbors=50, umap_min_dist=0.5),
    "umap50_01": dict(reducers=("umap",), umap_n_neighbors=50, umap_min_dist=0.1),
    "umap100_05": dict(reducers=("umap",), umap_n_neighbors=100, umap_min_dist=0.5),
    "tsne25": dict(reducers=("tsne",), tsne_perplexity=25.0, **TSNE_NOTEBOOK),
    "tsne100": dict(reducers=("tsne",), tsne_perplexity=100.0, **TSNE_NOTEBOOK),
}

# Paper mode: every difference from BEANS' / the paper's code found so far, switched to theirs.
# Each is a config key and reaches the cell key (the data options through the builder config,
# the AVES rate through the Backbone), so paper-mode and own-default cells never share a cache.
PAPER_MODE = dict(
    # BEANS' fixed class lists (datasets.yml), rfcx in numeric order 0..23 (ours: sorted strings).
    class_order="beans",
    # BEANS' window count int((length - w) / shift) + 1 (ours adds a zero-padded tail window).
    window_rule="beans",
    # BEANS' raw `overlap > .2` (ours absorbs float noise with 1e-9).
    overlap_tolerance=0.0,
)
OWN_DEFAULTS = dict(class_order="sorted", window_rule="cover_tail", overlap_tolerance=1e-9)
# AVES input rate: the paper's AvesClassifier has its resampling line commented out ("raw
# waveform without resampling") and BEANS' loader hands every model the dataset's own rate, so
# the paper most likely fed 9.6-250 kHz audio to AVES as if it were 16 kHz (its numbers are for
# that input). The paper mode does the same ("dataset"); 16000 resamples to AVES' training rate,
# the physically meaningful input, and is the default outside the paper mode.
PAPER_AVES_INPUT_RATE = "dataset"
# The ResNet-50/152 ImageNet weights: the paper's `ResNet50_Weights.DEFAULT` is IMAGENET1K_V2; the
# rn50p / rn152p presets use the V2 files in every mode (rn50p_v1 / rn152p_v1 keep the V1 files).


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  arg = common.parse_arg(arg, root="", models=("paper",), datasets=BEANS_DATASETS,
                         regimes=("frozen", "finetuned"), grid=tuple(GRID),
                         backgrounds=("all", "fewer"), paper_mode=True, labels="merge",
                         smoke=False)
  unknown = sorted(set(arg.grid) - set(GRID))
  if unknown:
    raise ValueError(f"Config arg grid={'+'.join(arg.grid)}: unknown setting(s) {unknown}; "
                     f"known: {'+'.join(GRID)}")
  if arg.root and not arg.smoke:
    _check_datasets(arg.root, arg.datasets)
  config = ml_collections.ConfigDict()
  config.seed = 42
  # smoke: the same code path on the built-in synthetic suite (one detection set: both
  # background settings), tiny widths, for tests.
  config.data = common.data_config(
      root=arg.root, datasets=("synth_frogs_detection",) if arg.smoke
      else arg.datasets, synthetic_size="tiny" if arg.smoke else "", labels=arg.labels,
      **(PAPER_MODE if arg.paper_mode else OWN_DEFAULTS))
  config.models = smoke_models(arg.models) if arg.smoke else expand_models(arg.models)
  config.model_overrides = ml_collections.ConfigDict(SMOKE_OVERRIDES if arg.smoke else {})
  config.weights_dir = ""
  config.aves_input_rate = PAPER_AVES_INPUT_RATE if arg.paper_mode else "16000"
  # Random-init models beside their torch: twin start from the torch init, ported (cells/cell.py).
  config.random_init = "auto"  # "auto" | "torch" | "flax"
  config.regimes = arg.regimes
  config.backgrounds = arg.backgrounds
  # float32 extraction: the paper's numbers (bf16 is "auto" elsewhere: bf16 on GPU/TPU only).
  config.embed = ml_collections.ConfigDict(dict(dtype="float32", batch_size=32))
  # The main setting (UMAP(50, 0.5) + k-means; PCA in the smoke grid); eval_grid adds the rest.
  config.evaluate = common.evaluate_config(reducers=("pca",) if arg.smoke else ("umap",),
                                           clusterers=("kmeans",), probes=(),
                                           **(dict(seeds=2, interval_draws=4) if arg.smoke
                                              else {}))
  grid = {name: dict(GRID[name]) for name in arg.grid}
  if arg.smoke:
    # UMAP's numba compilation alone would take ~20 s per test process: the smoke grid keeps
    # every setting (its parameters, hence its evaluation key and table) with PCA in place of
    # UMAP, and t-SNE at sklearn's minimum of 250 iterations.
    for setting in grid.values():
      if setting["reducers"] == ("umap",):
        setting["reducers"] = ("pca",)
      else:
        setting["tsne_max_iter"] = 250
  config.eval_grid = ml_collections.ConfigDict(grid)
  config.paper_report = True  # paper_report.md beside report.md (report/paper_grid/document.py)
  config.train = default_train_config()  # Adam, batch 32, lr grid, 50 epochs, best on valid
  if arg.smoke:
    config.embed.batch_size = 16
    config.train.num_epochs, config.train.learning_rates = 1, (1e-3,)
    config.train.batch_size = config.train.eval_batch_size = 8
  return config.lock()


def expand_models(names: tuple[str, ...]) -> tuple[str, ...]:
  """`models=` names: zoo presets and the sets of MODEL_SETS (`paper`, `extended`,
  `bioacoustic`, `paper+extended`, `extended+mfcc`), expanded in order, each model once."""
  return common.expand_models(names, MODEL_SETS)


def smoke_models(names: tuple[str, ...]) -> tuple[str, ...]:
  """The smoke grid's models: SMOKE_MODELS by default, else the asked-for models' random-init
  twins (no weights files here; tiny widths from SMOKE_OVERRIDES). A set keeps the members
  that have a twin; a model named alone without one is an error."""
  if tuple(names) == ("paper",):
    return SMOKE_MODELS
  out = []
  for name in names:
    members = MODEL_SETS.get(name)
    for model in members or (name,):
      twin = SMOKE_TWINS.get(model, model if model in SMOKE_TWINS.values() else None)
      if twin is None and members is None:
        raise ValueError(f"Config arg models={name}: the smoke grid has no random-init twin of "
                         f"{model!r} (no weights here); twins: {SMOKE_TWINS}")
      if twin is not None and twin not in out:
        out.append(twin)
  return tuple(out)


def _check_datasets(root: str, datasets: tuple[str, ...]) -> None:
  """All asked-for datasets must be under root: the missing ones are named before any work."""
  missing = [d for d in datasets if not _present(root, d)]
  if missing:
    present = [d for d in datasets if d not in missing]
    rest = f"run the others with :datasets={'+'.join(present)}" if present else (
        "none of the asked-for datasets is there")
    found = catalog.whats_there(root, missing)
    # A typo or a partial download is not told to fetch 300 GB: the help only when nothing is.
    help_text = "" if any(_present(root, d) for d in catalog.BEANS_ROSTER) else (
        " " + catalog.BEANS_HELP)
    raise FileNotFoundError(
        f"BEANS root {root} lacks {len(missing)} of {len(datasets)} datasets: "
        f"{', '.join(missing)} (expected {', '.join(_expected(d) for d in missing)}); {rest}. "
        f"{found}{help_text}")


def _present(root: str, dataset: str) -> bool:
  if os.path.isfile(os.path.join(root, dataset, catalog.DATASET_JSON)):
    return True
  spec = catalog.BEANS_ROSTER.get(dataset)
  return spec is not None and all(os.path.isfile(os.path.join(root, spec["folder"], f))
                                  for f in spec["files"].values())


def _expected(dataset: str) -> str:
  spec = catalog.BEANS_ROSTER.get(dataset)
  if spec is None:
    return f"{dataset}/{catalog.DATASET_JSON}"
  return f"{spec['folder']}/{next(iter(spec['files'].values()))}"


def sweep(add, arg=None):
  """One run per dataset x model of the config (`arg`'s datasets= and models=, the smoke grid's
  under smoke=true): the unit that parallelises across machines; each run holds both regimes,
  both background settings and the whole reducer grid (embeddings reused)."""
  config = get_config(arg)
  for dataset in config.data.datasets:
    for model in config.models:
      add({"data.datasets": (dataset,), "models": (model,)})



