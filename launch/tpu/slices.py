"""What a Cloud TPU accelerator type means: its family, runtime version and number of hosts.

An accelerator type is `<family>-<size>` (`v4-32`, `v5litepod-16`, `v6e-8`). Its size counts
TensorCores for v2, v3, v4 and v5p (2 per chip) and chips for v5e and v6e (1 TensorCore per
chip). The hosts (TPU VMs, the `--worker` indices of `gcloud compute tpus tpu-vm ssh`) follow from
Cloud TPU's system-architecture pages:
- v2, v3, v4, v5p: 4 chips (8 TensorCores) per host: v4-8 is one host, v4-32 is 16 chips on 4
  hosts, v5p-16 is 8 chips on 2 hosts.
- v5e (`v5litepod`), v6e: a slice of up to 8 chips is one VM (v5litepod-8, v6e-8); larger
  slices are made of 4-chip VMs (v5litepod-16: 4 hosts; v6e-256: 64).
A live run counts the hosts the slice reports (`describe`); these rules are what a dry run
shows before the slice exists.
"""

from __future__ import annotations

import dataclasses
import re

# Runtime (software) version per family, from Cloud TPU's "TPU software versions" page for
# JAX/PyTorch ("v4 and older": tpu-ubuntu2204-base).
RUNTIME_VERSIONS = {
    "v2": "tpu-ubuntu2204-base",
    "v3": "tpu-ubuntu2204-base",
    "v4": "tpu-ubuntu2204-base",
    "v5e": "v2-alpha-tpuv5-lite",
    "v5p": "v2-alpha-tpuv5",
    "v6e": "v2-alpha-tpuv6e",
}


@dataclasses.dataclass(frozen=True)
class HostRule:
  """How a family's size becomes hosts: `cores_per_chip` TensorCores per chip (what the size
  counts when 2), `chips_per_host` per VM of a multi-host slice, `one_host_up_to` chips that
  still fit one VM."""
  cores_per_chip: int
  chips_per_host: int
  one_host_up_to: int


HOST_RULES = {
    "v2": HostRule(cores_per_chip=2, chips_per_host=4, one_host_up_to=4),
    "v3": HostRule(cores_per_chip=2, chips_per_host=4, one_host_up_to=4),
    "v4": HostRule(cores_per_chip=2, chips_per_host=4, one_host_up_to=4),
    "v5p": HostRule(cores_per_chip=2, chips_per_host=4, one_host_up_to=4),
    "v5e": HostRule(cores_per_chip=1, chips_per_host=4, one_host_up_to=8),
    "v6e": HostRule(cores_per_chip=1, chips_per_host=4, one_host_up_to=8),
}
_ALIASES = {"v5litepod": "v5e"}


class AcceleratorError(ValueError):
  """An accelerator type this launcher does not know; the message lists the known ones."""


def parse(accelerator: str) -> tuple[str, int]:
  """v4-32 -> ("v4", 32); v5litepod-16 / v5e-16 -> ("v5e", 16)."""
  match = re.fullmatch(r"(v\d+[a-z]*)-(\d+)", accelerator.strip().lower())
  family = match and _ALIASES.get(match.group(1), match.group(1))
  if not family or family not in RUNTIME_VERSIONS:
    raise AcceleratorError(
        f"Unknown accelerator type {accelerator!r}; expected <family>-<size> with family one "
        f"of {sorted(RUNTIME_VERSIONS)} (v5e is also 'v5litepod'), e.g. v4-8, v5litepod-16, "
        "v5p-32, v6e-8; or pass --version.")
  return family, int(match.group(2))


def family(accelerator: str) -> str:
  return parse(accelerator)[0]


def runtime_version(accelerator: str) -> str:
  return RUNTIME_VERSIONS[family(accelerator)]


def num_hosts(accelerator: str) -> int:
  """TPU VM hosts of a slice of this type (the rules in the module docstring)."""
  fam, size = parse(accelerator)
  rule = HOST_RULES[fam]
  chips, rest = divmod(size, rule.cores_per_chip)
  if rest == 0 and chips <= rule.one_host_up_to:
    return 1
  if rest or chips % rule.chips_per_host:
    unit = "TensorCores" if rule.cores_per_chip > 1 else "chips"
    step = rule.cores_per_chip * rule.chips_per_host
    raise AcceleratorError(
        f"Accelerator type {accelerator!r}: {fam} sizes count {unit}, and a multi-host slice "
        f"is a multiple of {step} (one host's worth); e.g. {fam}-{step * 4}.")
  return chips // rule.chips_per_host
