"""Device prefetch: the next batches are already on their way to the devices while one runs.

    for host_batch, device_batch in prefetch(batches, put, size=2): ...

`put` starts the host-to-device copy (jax.device_put / make_array_from_process_local_data
return at once; the copy runs in the background), so keeping `size` batches placed ahead hides
the transfer behind the running step, as flax's `prefetch_to_device(it, 2)` does. The host
batch comes with its placed copy: consumers still read masks and ids on the host without
pulling anything back from the devices.
"""

from __future__ import annotations

import collections
from typing import Any, Callable, Iterable, Iterator

DEFAULT_SIZE = 2


def prefetch(items: Iterable[Any], put: Callable[[Any], Any],
             size: int = DEFAULT_SIZE) -> Iterator[tuple[Any, Any]]:
  """Yields `(item, put(item))`, with `put` called `size` items ahead of the consumer."""
  if size < 0:
    raise ValueError(f"prefetch size must be >= 0, got {size}")
  queue: collections.deque = collections.deque()
  for item in items:
    queue.append((item, put(item)))
    if len(queue) > size:
      yield queue.popleft()
  while queue:
    yield queue.popleft()
