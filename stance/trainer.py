"""Fine-tuning: both heads trained together, dev evaluation each epoch, early stopping on mean dev
macro-F1, resumable checkpoints, temperature calibration, and a self-describing saved model.

A plain loop over `accelerate` (device placement, multi-GPU/`accelerate launch` without code
changes) rather than `transformers.Trainer`, because two heads, per-head class weights, pair
inputs with segment-aware pooling and exact resume are simpler to state directly than to bend
Trainer into.
"""

from __future__ import annotations

import json
import math
import random
import shutil
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.metrics import f1_score
from torch import nn

from stance.calibration import calibration_report, cv_offset_macro_f1, fit_logit_offset, fit_temperature
from stance.config import Config, ConfigError
from stance.corpus import LabelledSentence, load_labelled
from stance.labels import AXES, label2id
from stance.metrics import all_metrics
from stance.modeling import (
    StanceModel,
    batched_logits,
    collate,
    encode_pairs,
    load_model,
    resolve_base_model,
    save_model,
)

CHECKPOINT = "checkpoint"


class TrainingInterrupted(RuntimeError):
    pass


@dataclass
class TrainResult:
    model_dir: Path
    metrics: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0


def set_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def class_weights(labels: list[int], n: int, mode: str) -> torch.Tensor | None:
    if mode == "none":
        return None
    counts = np.bincount(labels, minlength=n).astype(float)
    counts[counts == 0] = 1.0
    w = counts.sum() / (n * counts)
    if mode == "sqrt_inverse":
        w = np.sqrt(w)
    return torch.tensor(w / w.mean(), dtype=torch.float32)


def length_grouped_batches(lengths: list[int], batch_size: int, generator: torch.Generator
                           ) -> list[list[int]]:
    """Shuffle, sort within mega-batches of 50 batches by length, shuffle the batches: less padding,
    still random, and fully determined by `generator`."""
    perm = torch.randperm(len(lengths), generator=generator).tolist()
    mega = batch_size * 50
    batches: list[list[int]] = []
    for i in range(0, len(perm), mega):
        chunk = sorted(perm[i : i + mega], key=lambda k: lengths[k])
        batches.extend(chunk[j : j + batch_size] for j in range(0, len(chunk), batch_size))
    order = torch.randperm(len(batches), generator=generator).tolist()
    return [batches[k] for k in order]


def predict_rows(model: StanceModel, tokenizer: Any, rows: list[LabelledSentence], cfg: Config,
                 device: Any = "cpu") -> dict[str, np.ndarray]:
    ctx = [r.context for r in rows] if cfg.model.use_context else None
    logits, _ = batched_logits(model, tokenizer, [r.text for r in rows], ctx, cfg.model.max_length,
                               batch_size=64, device=device)
    return logits


def evaluate_logits(logits: dict[str, np.ndarray], rows: list[LabelledSentence]) -> dict[str, Any]:
    gold = {axis: [r.label(axis) for r in rows] for axis in AXES}
    pred = {axis: [AXES[axis][i] for i in logits[axis].argmax(axis=1)] for axis in AXES}
    return all_metrics(gold, pred)


def _load_split(path: str, what: str) -> list[LabelledSentence]:
    return load_labelled(path) if path else []


def _build(cfg: Config) -> tuple[StanceModel, Any]:
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    base = resolve_base_model(cfg.model.base_model)
    tokenizer = AutoTokenizer.from_pretrained(base)
    if cfg.model.init == "random":
        encoder = AutoModel.from_config(AutoConfig.from_pretrained(base))
    else:
        encoder = AutoModel.from_pretrained(base)
    return StanceModel(encoder, dropout=cfg.model.dropout), tokenizer


def train(cfg: Config, resume: bool = False, progress: bool = True,
          on_epoch_end: Callable[[int, dict[str, Any]], None] | None = None) -> TrainResult:
    """Train, select the best epoch on dev, calibrate, evaluate and save to cfg.output.dir."""
    from accelerate import Accelerator
    from tqdm.auto import tqdm
    from transformers import get_linear_schedule_with_warmup

    t0 = time.time()
    set_seed(cfg.training.seed)  # before anything random is built
    if cfg.training.num_threads:
        torch.set_num_threads(cfg.training.num_threads)
    accelerator = Accelerator(cpu=not torch.cuda.is_available())
    out_dir = Path(cfg.output.dir)
    ckpt_dir = out_dir / CHECKPOINT

    train_rows = load_labelled(cfg.data.train)
    dev_rows = load_labelled(cfg.data.dev)
    prior_rows = _prior_rows(cfg)  # checked now, not after an hour of training
    excluded = _names(cfg.data.exclude_collections)
    if excluded:
        train_rows = [r for r in train_rows if r.collection not in excluded]
        dev_rows = [r for r in dev_rows if r.collection not in excluded]
        if not train_rows or not dev_rows:
            raise ConfigError(f"data.exclude_collections={cfg.data.exclude_collections!r} leaves no "
                              f"{'training' if not train_rows else 'dev'} rows")
    if not cfg.data.include_headlines:
        train_rows = [r for r in train_rows if not r.is_headline]
    if cfg.training.max_train_examples:
        train_rows = train_rows[: cfg.training.max_train_examples]

    model, tokenizer = _build(cfg)
    ctx = [r.context for r in train_rows] if cfg.model.use_context else None
    enc = encode_pairs(tokenizer, [r.text for r in train_rows], ctx, cfg.model.max_length)
    targets = {axis: torch.tensor([label2id(axis)[r.label(axis)] for r in train_rows])
               for axis in AXES}
    losses = {axis: nn.CrossEntropyLoss(weight=class_weights(targets[axis].tolist(), len(labs),
                                                             cfg.training.class_weighting))
              for axis, labs in AXES.items()}
    loss_weight = {"certainty": 1.0, "attribution": cfg.training.attribution_loss_weight}

    head_params = [p for n, p in model.named_parameters() if n.startswith("heads.")]
    enc_decay = [p for n, p in model.named_parameters()
                 if n.startswith("encoder.") and not any(k in n for k in ("bias", "LayerNorm"))]
    enc_nodecay = [p for n, p in model.named_parameters()
                   if n.startswith("encoder.") and any(k in n for k in ("bias", "LayerNorm"))]
    optimizer = torch.optim.AdamW([
        {"params": enc_decay, "lr": cfg.training.learning_rate, "weight_decay": cfg.training.weight_decay},
        {"params": enc_nodecay, "lr": cfg.training.learning_rate, "weight_decay": 0.0},
        {"params": head_params, "lr": cfg.training.head_learning_rate, "weight_decay": 0.0},
    ])
    steps_per_epoch = math.ceil(len(train_rows) / cfg.training.batch_size / accelerator.num_processes)
    total = steps_per_epoch * cfg.training.epochs
    scheduler = get_linear_schedule_with_warmup(optimizer, int(total * cfg.training.warmup_ratio), total)

    start_epoch, best, best_epoch, bad_epochs = 0, -1.0, -1, 0
    history: list[dict[str, Any]] = []
    if resume:
        state_file = ckpt_dir / "state.pt"
        if not state_file.is_file():
            raise FileNotFoundError(f"{ckpt_dir}: no checkpoint to resume from")
        state = torch.load(state_file, weights_only=True)
        saved_cfg = json.loads((ckpt_dir / "config.json").read_text())
        if saved_cfg != cfg.to_dict():
            raise ValueError(f"{ckpt_dir}: the checkpoint was made with a different config; "
                             "resume with the same config and overrides")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng"])
        start_epoch = int(state["epoch"]) + 1
        best, best_epoch, bad_epochs = float(state["best"]), int(state["best_epoch"]), int(state["bad_epochs"])
        history = json.loads((ckpt_dir / "history.json").read_text())

    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
    device = accelerator.device
    lengths = [len(x) for x in enc.input_ids]
    pad_id = tokenizer.pad_token_id or 0

    for epoch in range(start_epoch, cfg.training.epochs):
        if cfg.training.early_stopping_patience and bad_epochs >= cfg.training.early_stopping_patience:
            break
        model.train()
        gen = torch.Generator().manual_seed(cfg.training.seed * 1000 + epoch)
        batches = length_grouped_batches(lengths, cfg.training.batch_size, gen)
        batches = batches[accelerator.process_index :: accelerator.num_processes]
        bar = tqdm(batches, desc=f"epoch {epoch + 1}/{cfg.training.epochs}", unit="batch",
                   disable=not progress or not accelerator.is_main_process, dynamic_ncols=True)
        running = 0.0
        for step, idx in enumerate(bar, 1):
            batch = collate([enc.input_ids[i] for i in idx], [enc.token_type_ids[i] for i in idx], pad_id)
            logits = model(**{k: v.to(device) for k, v in batch.items()})
            loss = sum(loss_weight[a] * losses[a].to(device)(logits[a], targets[a][idx].to(device))
                       for a in AXES)
            accelerator.backward(loss)
            accelerator.clip_grad_norm_(model.parameters(), cfg.training.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            running += loss.item()
            bar.set_postfix(loss=f"{running / step:.4f}")
        raw = accelerator.unwrap_model(model)
        dev_metrics = evaluate_logits(predict_rows(raw, tokenizer, dev_rows, cfg, device), dev_rows)
        score = dev_metrics["mean_macro_f1"]
        record = {"epoch": epoch + 1, "train_loss": running / max(1, len(batches)),
                  "dev_certainty_macro_f1": dev_metrics["certainty"]["macro_f1"],
                  "dev_attribution_macro_f1": dev_metrics["attribution"]["macro_f1"],
                  "dev_mean_macro_f1": score}
        history.append(record)
        if progress and accelerator.is_main_process:
            tqdm.write(f"epoch {epoch + 1}: loss {record['train_loss']:.4f}  dev macro-F1 "
                       f"certainty {record['dev_certainty_macro_f1']:.4f}  attribution "
                       f"{record['dev_attribution_macro_f1']:.4f}")
        if score > best:
            best, best_epoch, bad_epochs = score, epoch + 1, 0
            if accelerator.is_main_process:
                _save_weights(raw, ckpt_dir / "best.safetensors")
        else:
            bad_epochs += 1
        if accelerator.is_main_process:
            _save_checkpoint(ckpt_dir, raw, optimizer, scheduler, epoch, best, best_epoch,
                             bad_epochs, history, cfg)
        if on_epoch_end is not None:
            on_epoch_end(epoch + 1, record)

    accelerator.wait_for_everyone()
    raw = accelerator.unwrap_model(model)
    from safetensors.torch import load_file

    raw.load_state_dict(load_file(str(ckpt_dir / "best.safetensors")))
    raw.eval()
    result = _finish(raw, tokenizer, cfg, dev_rows, history, best_epoch, t0, device, len(train_rows), prior_rows)
    if accelerator.is_main_process:
        shutil.rmtree(ckpt_dir, ignore_errors=True)
    return result


def _save_weights(model: nn.Module, path: Path) -> None:
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, str(tmp))
    tmp.replace(path)


def _save_checkpoint(d: Path, model: nn.Module, optimizer: Any, scheduler: Any, epoch: int,
                     best: float, best_epoch: int, bad_epochs: int, history: list[dict[str, Any]],
                     cfg: Config) -> None:
    """Everything needed to continue after the last finished epoch, written atomically."""
    d.mkdir(parents=True, exist_ok=True)
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
             "scheduler": scheduler.state_dict(), "rng": torch.get_rng_state(), "epoch": epoch,
             "best": best, "best_epoch": best_epoch, "bad_epochs": bad_epochs}
    tmp = d / "state.pt.tmp"
    torch.save(state, tmp)
    from stance.io import atomic_write_text

    atomic_write_text(d / "history.json", json.dumps(history))
    atomic_write_text(d / "config.json", json.dumps(cfg.to_dict()))
    tmp.replace(d / "state.pt")


def _finish(model: StanceModel, tokenizer: Any, cfg: Config, dev_rows: list[LabelledSentence],
            history: list[dict[str, Any]], best_epoch: int, t0: float, device: Any,
            n_train: int, prior_rows: list[LabelledSentence] | None = None) -> TrainResult:
    """Calibrate on dev, evaluate on every configured set, save the model directory."""
    dev_logits = predict_rows(model, tokenizer, dev_rows, cfg, device)
    calibration: dict[str, Any] = {}
    for i, axis in enumerate(AXES):
        gold = np.array([label2id(axis)[r.label(axis)] for r in dev_rows])
        t = fit_temperature(dev_logits[axis], gold) if cfg.output.calibrate else 1.0
        model.temperature[i] = t
        calibration[axis] = calibration_report(dev_logits[axis], gold, t)
    prior = _fit_prior_offsets(model, tokenizer, cfg, prior_rows, dev_rows, dev_logits, device) if prior_rows else {}
    sets: dict[str, str] = {"dev": cfg.data.dev}
    if cfg.data.test:
        sets["test"] = cfg.data.test
    sets.update(cfg.data.extra_eval)
    metrics: dict[str, Any] = {}
    for name, path in sets.items():
        rows = dev_rows if name == "dev" else load_labelled(path)
        metrics[name] = evaluate_logits(predict_rows(model, tokenizer, rows, cfg, device), rows)
    seconds = time.time() - t0
    meta = {
        "use_context": cfg.model.use_context,
        "max_length": cfg.model.max_length,
        "base_model": cfg.model.base_model,
        "seed": cfg.training.seed,
        "config": cfg.to_dict(),
        "best_epoch": best_epoch,
        "history": history,
        "metrics": {name: _summary(m) for name, m in metrics.items()},
        "calibration": calibration,
        **({"prior_offsets": prior} if prior else {}),
        "train_seconds": round(seconds, 1),
        "train_examples": n_train,
    }
    out_dir = Path(cfg.output.dir)
    save_model(model, tokenizer, out_dir, meta, fp16=cfg.output.fp16_weights)
    if cfg.output.fp16_weights:  # the shipped weights must give the fp32 results
        reloaded, tok, _ = load_model(out_dir)
        drift = {}
        for name, path in sets.items():
            rows = dev_rows if name == "dev" else load_labelled(path)
            m16 = evaluate_logits(predict_rows(reloaded, tok, rows, cfg), rows)
            drift[name] = {a: round(abs(m16[a]["macro_f1"] - metrics[name][a]["macro_f1"]), 5) for a in AXES}
        meta["fp16_macro_f1_drift"] = drift
        meta["metrics"] = {name: _summary(m) for name, m in metrics.items()}
        from stance.io import atomic_write_text
        from stance.modeling import META

        full = json.loads((out_dir / META).read_text())
        full["fp16_macro_f1_drift"] = drift
        atomic_write_text(out_dir / META, json.dumps(full, indent=2, ensure_ascii=False) + "\n")
    from stance.modelcard import write_model_card

    write_model_card(out_dir)
    return TrainResult(out_dir, metrics, history, seconds)


def _prior_rows(cfg: Config) -> list[LabelledSentence]:
    """The rows of output.prior_data (restricted to output.prior_collections); [] when unset."""
    if not cfg.output.prior_data:
        return []
    wanted = _names(cfg.output.prior_collections)
    rows = [r for r in load_labelled(cfg.output.prior_data) if not wanted or r.collection in wanted]
    if not rows:
        raise ConfigError(f"{cfg.output.prior_data}: no rows of collection(s) {', '.join(sorted(wanted))} "
                          "(output.prior_collections)")
    return rows


def _names(value: str) -> set[str]:
    """A comma-separated list of collection names from the config."""
    return {c.strip() for c in value.split(",") if c.strip()}


def _fit_prior_offsets(model: StanceModel, tokenizer: Any, cfg: Config, rows: list[LabelledSentence],
                       dev_rows: list[LabelledSentence], dev_logits: dict[str, np.ndarray], device: Any
                       ) -> dict[str, Any]:
    """Per-class logit offsets for the label mix of cfg.output.prior_data, folded into the heads.

    softmax(z / T + b) = softmax((z + T b) / T): adding T*b to a head's bias applies the offset in
    every backend and export with no change to inference code."""
    def key(r: LabelledSentence) -> tuple[str, int, str]:
        return r.article_id, r.sentence_index, r.text

    in_dev = {key(r): i for i, r in enumerate(dev_rows)}
    if all(key(r) in in_dev for r in rows):  # the usual case: dev rows of one register, already scored
        idx = [in_dev[key(r)] for r in rows]
        logits = {axis: dev_logits[axis][idx] for axis in AXES}
    else:
        logits = predict_rows(model, tokenizer, rows, cfg, device)
    keys = {key(r) for r in rows}
    rest = np.array([key(r) not in keys for r in dev_rows])
    groups = np.array([r.article_id for r in rows])
    out: dict[str, Any] = {"data": cfg.output.prior_data,
                           "collections": sorted(_names(cfg.output.prior_collections)), "n": len(rows)}
    for i, axis in enumerate(AXES):
        t = float(model.temperature[i])
        gold = np.array([label2id(axis)[r.label(axis)] for r in rows])
        z = logits[axis] / t
        without, with_cv = cv_offset_macro_f1(z, gold, groups)
        b = fit_logit_offset(z, gold)
        rest_drop = 0.0
        if rest.any():
            dev_gold = np.array([label2id(axis)[r.label(axis)] for r in dev_rows])[rest]
            zr = dev_logits[axis][rest] / t
            rest_drop = float(f1_score(dev_gold, zr.argmax(1), average="macro")
                              - f1_score(dev_gold, (zr + b).argmax(1), average="macro"))
        kept = with_cv > without and rest_drop <= 0.01
        out[axis] = {"offset": [round(float(x), 4) for x in b], "kept": kept,
                     "cv_macro_f1_without": round(without, 4), "cv_macro_f1_with": round(with_cv, 4),
                     "rest_of_dev_macro_f1_drop": round(rest_drop, 4)}
        if kept:
            model.add_calibrated_offset(axis, b)
    return out


def _summary(m: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"mean_macro_f1": round(m["mean_macro_f1"], 4)}
    for axis in AXES:
        out[axis] = {"accuracy": round(m[axis]["accuracy"], 4), "macro_f1": round(m[axis]["macro_f1"], 4),
                     "n": m[axis]["n"],
                     "per_class_f1": {k: round(v["f1"], 4) for k, v in m[axis]["per_class"].items()}}
    return out


def label_counts(rows: list[LabelledSentence]) -> dict[str, dict[str, int]]:
    return {axis: dict(Counter(r.label(axis) for r in rows)) for axis in AXES}
