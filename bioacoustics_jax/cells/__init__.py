"""The cells: one dataset split x one resolved model x one regime, and its embedding set.

  cell = Cell(dataset=..., model="rn18", regime="frozen", backbone=zoo.resolve("rn18"),
              cache_dir=..., data_root=...)                      # grid.py builds these
  cell = cell.opened()               # splits opened once; cell.key, cell.embeddings_path
  got = store.embed_cell(cell, config, probe_train=True)         # every process calls it
  got.embeddings, got.train          # handed to evaluation, which never asks back

  cell.py         the Cell, its key (data, Backbone, settings and the code upstream of the
                  embeddings, computed from the imports: source_code.py) and its files
  store.py        load-or-compute under the key, the lock, the multi-host agreement
  jax_cell.py, jax_finetuned.py       the JAX cells (collective: every process runs them)
  torch_cell.py, torch_finetuned.py   the PyTorch cells ("torch:<model>", process 0 alone)
  shared_init.py  the torch reference's random init ported into Flax, for a JAX cell beside
                  its torch: twin

The runners share one interface (`embeddings(cell, config)`, `COLLECTIVE`) and are imported
by name (cell.RUNNERS) only when such a cell runs. This room sits below experiment.py and above
train/, embed/, baselines/ and zoo/; it never imports evaluate/ or report/.
"""
