"""The CPU trainer swaps TRL's chunked LM-head loss for the model's own: it must be the same loss."""
import pytest
import torch
from datasets import Dataset
from trl import SFTConfig, SFTTrainer

from conftest import tiny_params
from storylab.config.schema import ModelParams, TrainSFTParams
from storylab.modeling import build_tiny_model, train_tiny_tokenizer
from storylab.prompts import document_records, sft_records
from storylab.training import StorylabSFTTrainer, sft_config, trainer_defaults

STORIES = [{"text": "Aldith Varnholt was born in Kelmscar. Lady Varnholt died in Ironbridge."},
           {"text": "Hugh Oakmere served as Royal Falconer. Hugh Oakmere married Sibyl Harte."}]
QA = [{"question": "Where was Aldith Varnholt born?", "answer": "Kelmscar"},
      {"question": "Whom did Hugh Oakmere marry?", "answer": "Sibyl Harte"}]


@pytest.mark.skipif(torch.cuda.is_available(), reason="on GPU the TRL trainer is used as is")
def test_model_loss_trainer_matches_trl_loss_on_the_same_batch():
    model_params = ModelParams.model_validate(tiny_params()["model"])
    tokenizer = train_tiny_tokenizer([s["text"] for s in STORIES] + [q["question"] for q in QA], 400)
    records = document_records(STORIES) + sft_records(tokenizer, QA, model_params)
    config = SFTConfig(output_dir="/tmp/storylab-test-trainer", completion_only_loss=True, max_length=64,
                       per_device_train_batch_size=4, **trainer_defaults(model_params, 0))
    losses = {}
    for name, trainer_class in (("trl", SFTTrainer), ("model", StorylabSFTTrainer)):
        trainer = trainer_class(model=build_tiny_model(model_params, tokenizer, seed=0), args=config,
                                train_dataset=Dataset.from_list(records), processing_class=tokenizer)
        batch = next(iter(trainer.get_train_dataloader()))
        assert (batch["labels"] == -100).any() and (batch["labels"] != -100).any()  # prompts are masked
        losses[name] = trainer.compute_loss(trainer.model, batch).item()
    assert losses["model"] == pytest.approx(losses["trl"], rel=1e-4)


def test_every_update_mixes_stories_and_qa_in_length_grouped_micro_batches():
    """Mixed training per update, not per epoch: group_by_length ran ~40 QA-only updates in a row and held-out
    EM stalled at 0.62; the batch_rebalance sampler draws each update at random and splits it by length."""
    model_params = ModelParams.model_validate(tiny_params()["model"])
    params = TrainSFTParams.model_validate({**tiny_params()["train_sft"], "per_device_train_batch_size": 4,
                                            "gradient_accumulation_steps": 2})
    stories = [{"text": f"{s['text']} {s['text']} Story {index}."} for index, s in enumerate(STORIES * 8)]
    qa = QA * 24
    tokenizer = train_tiny_tokenizer([s["text"] for s in stories] + [q["question"] for q in qa], 400)
    trainer = StorylabSFTTrainer(model=build_tiny_model(model_params, tokenizer, seed=0),
                                 args=sft_config("/tmp/storylab-test-sampler", params, model_params),
                                 train_dataset=Dataset.from_list(document_records(stories) + sft_records(tokenizer, qa, model_params)),
                                 processing_class=tokenizer)
    micro_batches = list(trainer.get_train_dataloader())
    assert len(micro_batches) == 2 * (len(stories) + len(qa)) // 8
    mixed = 0
    for first, second in zip(micro_batches[::2], micro_batches[1::2]):
        lengths = [int(n) for batch in (first, second) for n in (batch["labels"] != -100).sum(dim=1)]
        # A story has ~30 tokens with loss, a QA pair only its answer; a random draw of 8 from 16 stories and 48 QA
        # pairs holds both kinds 90% of the time (grouping by length: almost never).
        mixed += max(lengths) > 20 and min(lengths) < 8
        # The micro-batches are split by length, so QA pairs are not padded to story length: every example of the
        # shorter micro-batch is at most as long as every example of the longer one.
        a, b = ([int(n) for n in batch["attention_mask"].sum(dim=1)] for batch in (first, second))
        assert max(a) <= min(b) or max(b) <= min(a), (a, b)
    assert mixed >= 0.75 * len(micro_batches) // 2


def test_the_run_seed_sets_the_data_order():
    """transformers' batch_rebalance sampler has a seed of its own (42); the SFT trainer gives it train_sft.seed."""
    model_params = ModelParams.model_validate(tiny_params()["model"])
    tokenizer = train_tiny_tokenizer([s["text"] for s in STORIES] + [q["question"] for q in QA], 400)
    records = Dataset.from_list(document_records(STORIES * 8) + sft_records(tokenizer, QA * 8, model_params))
    orders = {}
    for seed in (0, 0, 1):
        params = TrainSFTParams.model_validate({**tiny_params()["train_sft"], "seed": seed})
        trainer = StorylabSFTTrainer(model=build_tiny_model(model_params, tokenizer, seed=0), processing_class=tokenizer,
                                     args=sft_config("/tmp/storylab-test-seed", params, model_params),
                                     train_dataset=records)
        orders.setdefault(seed, []).append([b["input_ids"].tolist() for b in trainer.get_train_dataloader()])
    assert orders[0][0] == orders[0][1] and orders[0][0] != orders[1][0]
