"""Checking a ported Flax model against its PyTorch reference, shared by tests and benchmarks.

A freshly initialised torch model has BatchNorm weight 1, bias 0, mean 0, var 1, so a porter that
swapped `scale` and `bias`, or ignored the running stats, would still "match". `randomize_norms`
makes every normalisation tensor distinct before comparing, so parity means the mapping is right.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bioacoustics_jax.porting import torch_to_flax


def randomize_norms(model: Any, seed: int = 0, calibrate_on: np.ndarray | None = None) -> Any:
  """Random affine params and running stats for every BatchNorm/LayerNorm/GroupNorm, in place.

  Args:
    model: a torch module.
    seed: for the random values.
    calibrate_on: optional NHWC batch. BatchNorm running stats are then set to this batch's
      statistics (one train-mode pass, cumulative average; variance x2 + 0.01) instead of
      random values, so that,
      as in a trained net, eval-mode activations stay O(1). Deep random nets with random
      stats otherwise reach logits in the hundreds, where float32 rounding alone exceeds an
      absolute 1e-4 tolerance. The stats still differ per channel, so mapping errors show.
  """
  import torch  # pylint: disable=g-import-not-at-top

  gen = torch.Generator().manual_seed(seed)
  norm_types = (torch.nn.modules.batchnorm._BatchNorm, torch.nn.LayerNorm, torch.nn.GroupNorm)  # pylint: disable=protected-access
  batch_norms = []
  with torch.no_grad():
    for module in model.modules():
      if not isinstance(module, norm_types):
        continue
      if getattr(module, "weight", None) is not None:
        module.weight.copy_(0.5 + torch.rand(module.weight.shape, generator=gen))
        module.bias.copy_(0.2 * torch.randn(module.bias.shape, generator=gen))
      if getattr(module, "running_mean", None) is not None:
        batch_norms.append(module)
        module.running_mean.copy_(0.1 * torch.randn(module.running_mean.shape, generator=gen))
        module.running_var.copy_(0.5 + torch.rand(module.running_var.shape, generator=gen))
  if calibrate_on is not None and batch_norms:
    momenta = [m.momentum for m in batch_norms]
    for m in batch_norms:
      m.reset_running_stats()
      m.momentum = None  # cumulative average: after one pass, exactly this batch's stats
    was_training = model.training
    torch_forward(model, calibrate_on, train=True)
    model.train(was_training)
    with torch.no_grad():
      for m, momentum in zip(batch_norms, momenta):
        m.momentum = momentum
        m.num_batches_tracked.zero_()
        # Exact batch variances leave near-constant channels (mostly-zero ReLU outputs) with a
        # tiny variance that amplifies float32 rounding layer after layer; doubling it (plus a
        # floor) keeps the net well conditioned and activations still O(1).
        m.running_var.mul_(2.0).add_(1e-2)
  return model


def randomize_zero_biases(model: Any, seed: int = 0, scale: float = 0.05) -> Any:
  """Small random values for every all-zero `bias` (torchvision zero-inits many), in place.

  A porter that read the wrong bias would go unnoticed if every bias were zero.
  """
  import torch  # pylint: disable=g-import-not-at-top

  gen = torch.Generator().manual_seed(seed + 1)
  with torch.no_grad():
    for name, param in model.named_parameters():
      if name.endswith("bias") and not torch.any(param):
        param.copy_(scale * torch.randn(param.shape, generator=gen))
  return model


def port_reference(spec, torch_model: Any, module: Any, sample_input: np.ndarray) -> Any:
  """Flax variables for `module` (built from `spec`) filled from `torch_model`'s state_dict."""
  import jax  # pylint: disable=g-import-not-at-top

  target = jax.eval_shape(lambda x: module.init(jax.random.PRNGKey(0), x), sample_input)
  return spec.port(torch_to_flax.to_numpy_state_dict(torch_model), target)


def torch_forward(torch_model: Any, x_nhwc: np.ndarray, train: bool = False) -> np.ndarray:
  """Runs an image model on NHWC numpy input (transposed to NCHW for torch); numpy output."""
  import torch  # pylint: disable=g-import-not-at-top

  torch_model.train(train)
  x = torch.from_numpy(np.ascontiguousarray(np.transpose(x_nhwc, (0, 3, 1, 2))))
  if train:
    return torch_model(x).detach().numpy()
  with torch.no_grad():
    return torch_model(x).numpy()


def running_stats(torch_model: Any) -> dict[str, np.ndarray]:
  """{key: array} of every BatchNorm running_mean/running_var of a torch model."""
  return {k: v for k, v in torch_to_flax.to_numpy_state_dict(torch_model).items()
          if k.endswith(("running_mean", "running_var"))}


def max_abs_diff(a: Any, b: Any) -> float:
  a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
  if a.shape != b.shape:
    raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
  return float(np.max(np.abs(a - b))) if a.size else 0.0


def max_relative_diff(got: Any, want: Any) -> float:
  """max |got - want| / max |want|: the issue's parity measure (<= 1e-5 on the embedding)."""
  want = np.asarray(want, np.float64)
  scale = float(np.max(np.abs(want))) if want.size else 0.0
  return max_abs_diff(got, want) / max(scale, np.finfo(np.float64).tiny)


def reference_and_port(spec, x: np.ndarray, seed: int = 0, calibrate_on: np.ndarray | None = None,
                       **overrides):
  """(torch model, Flax module, ported variables) for `spec` at `overrides`, ready to compare.

  The torch model gets random non-zero biases and normalisation tensors (see above), so the
  comparison checks every mapped tensor, not just the convolution weights.
  """
  import torch  # pylint: disable=g-import-not-at-top
  torch.manual_seed(seed)  # the reference's own random init, reproducible
  torch_model = spec.torch_reference(**overrides)
  randomize_zero_biases(torch_model, seed)
  randomize_norms(torch_model, seed, calibrate_on)
  torch_model.eval()
  module = spec.build(**overrides)
  return torch_model, module, port_reference(spec, torch_model, module, x)


def eval_outputs(spec, x: np.ndarray, seed: int = 0, calibrate_on: np.ndarray | None = None,
                 **overrides):
  """(Flax logits, Flax intermediates, torch output) in eval mode, for a parity assertion."""
  import jax  # pylint: disable=g-import-not-at-top

  torch_model, module, variables = reference_and_port(spec, x, seed, calibrate_on, **overrides)
  logits, intermediates = jax.jit(lambda v, x: module.apply(v, x, train=False))(variables, x)
  return np.asarray(logits), intermediates, torch_forward(torch_model, x)


def bfloat16_deviation(spec, x: np.ndarray, **overrides) -> tuple[float, float, Any, Any]:
  """Embedding of the bf16-compute model vs the float32 one, from the same float32 variables.

  Training clones a backbone with `dtype=bfloat16` on accelerators (train/finetune.py); this is
  the check that such a clone computes the same function. Returns (max abs difference, max abs
  float32 embedding, the bf16 module, the variables) so callers can also test its gradients.
  """
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  m32, m16 = spec.build(**overrides), spec.build(**overrides, dtype=jnp.bfloat16)
  variables = jax.jit(m32.init)(jax.random.PRNGKey(0), x)
  want = jax.jit(m32.apply)(variables, x)[1]["embedding"]
  got = jax.jit(m16.apply)(variables, x)[1]["embedding"]
  if got.dtype != jnp.float32:
    raise AssertionError(f"bf16 model returned a {got.dtype} embedding; expected float32")
  return float(jnp.max(jnp.abs(got - want))), float(jnp.max(jnp.abs(want))), m16, variables


def gradients_are_finite(module, variables: Any, x: np.ndarray) -> bool:
  """Whether d(sum embedding^2)/d(variables) is finite everywhere."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  grads = jax.jit(jax.grad(lambda v: jnp.sum(module.apply(v, x)[1]["embedding"] ** 2)))(variables)
  return all(bool(jnp.all(jnp.isfinite(g))) for g in jax.tree_util.tree_leaves(grads))
