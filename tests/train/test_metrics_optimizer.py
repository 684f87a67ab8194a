"""mAP/accuracy against sklearn; optimizer freezing, schedules, clipping and config errors."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from sklearn.metrics import average_precision_score

from bioacoustics_jax.train import config as config_lib
from bioacoustics_jax.train import losses
from bioacoustics_jax.train import metrics
from bioacoustics_jax.train import optimizer


def test_average_precision_matches_sklearn_with_ties():
  rng = np.random.default_rng(0)
  for _ in range(20):
    y = rng.random(40) < 0.3
    y[0] = True
    s = np.round(rng.normal(size=40), 1)  # rounding makes ties
    assert metrics.average_precision(s, y) == pytest.approx(average_precision_score(y, s))


def test_map_skips_absent_classes_and_accuracy():
  targets = np.array([[1, 0, 0], [0, 1, 0], [1, 0, 0], [0, 0, 0]], np.float32)  # class 2 absent
  scores = np.array([[0.9, 0.1, 0.5], [0.2, 0.8, 0.4], [0.1, 0.3, 0.9], [0.3, 0.2, 0.1]])
  want = np.mean([average_precision_score(targets[:, c], scores[:, c]) for c in (0, 1)])
  assert metrics.mean_average_precision(scores, targets) == pytest.approx(float(want))
  assert metrics.accuracy(scores, np.array([0, 1, 2, 0])) == 1.0
  with pytest.raises(ValueError, match="no class has a positive"):
    metrics.mean_average_precision(scores, np.zeros_like(targets))
  assert metrics.select_key("auto", "detection") == ("map", "max")
  with pytest.raises(ValueError, match="not available"):
    metrics.select_key("map", "classification")


def test_losses_match_definitions():
  logits = jnp.array([[2.0, 0.0, -1.0]])
  onehot = losses.targets(jnp.array([0]), 3, "classification")
  want = -jax.nn.log_softmax(logits)[0, 0]
  assert float(losses.per_example_loss(logits, onehot, "classification")[0]) == pytest.approx(float(want))
  multi = jnp.array([[1.0, 0.0, 1.0]])
  p = jax.nn.sigmoid(logits)
  bce = -(multi * jnp.log(p) + (1 - multi) * jnp.log(1 - p)).mean()
  assert float(losses.per_example_loss(logits, multi, "detection")[0]) == pytest.approx(float(bce), rel=1e-5)
  with pytest.raises(ValueError, match="multi-hot"):
    losses.targets(jnp.array([0, 1]), 3, "detection")


def _params():
  return {"backbone": {"conv": {"kernel": jnp.ones((3, 3, 1, 2)), "bias": jnp.ones((2,))},
                       "fc": {"kernel": jnp.ones((2, 2))}},
          "head": {"kernel": jnp.ones((2, 3)), "bias": jnp.ones((3,))}}


def test_frozen_prefixes_get_zero_updates_and_no_moments():
  config = config_lib.default_train_config()
  params = _params()
  tx = optimizer.make_optimizer(config, params, 10, 1e-2, frozen_prefixes=("conv",))
  state = tx.init(params)
  grads = jax.tree.map(jnp.ones_like, params)
  updates, _ = tx.update(grads, state, params)
  assert not np.any(updates["backbone"]["conv"]["kernel"])  # spec prefix under "backbone/"
  assert np.all(updates["backbone"]["fc"]["kernel"] != 0)
  moments = sum(x.size for x in jax.tree.leaves(state))
  assert moments < 2 * sum(x.size for x in jax.tree.leaves(params))  # conv has no Adam moments
  with pytest.raises(ValueError, match="match no parameter"):
    optimizer.make_optimizer(config, params, 10, 1e-2, frozen_prefixes=("convv",))


def test_schedules_clipping_and_bad_values():
  sched = optimizer.learning_rate_schedule(1.0, "cosine", 110, warmup_steps=10)
  assert float(sched(0)) == 0.0 and float(sched(10)) == pytest.approx(1.0)
  assert float(sched(110)) == pytest.approx(0.0, abs=1e-6)
  config = config_lib.default_train_config()
  config.update(dict(optimizer="sgd", grad_clip_norm=1.0))
  params = {"w": jnp.zeros((2,))}
  tx = optimizer.make_optimizer(config, params, 10, 1.0)
  updates, _ = tx.update({"w": jnp.array([30.0, 40.0])}, tx.init(params), params)
  assert float(optax.global_norm(updates)) == pytest.approx(1.0, rel=1e-5)
  config.optimizer = "adam"
  config.weight_decay = 0.1
  with pytest.raises(ValueError, match="adamw"):
    optimizer.make_optimizer(config, params, 10, 1.0)
  with pytest.raises(ValueError, match="Unknown schedule"):
    optimizer.learning_rate_schedule(1.0, "step", 10)
