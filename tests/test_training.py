"""The CPU trainer swaps TRL's chunked LM-head loss for the model's own: it must be the same loss."""
import pytest
import torch
from datasets import Dataset
from trl import SFTConfig, SFTTrainer

from conftest import tiny_params
from storylab.config import ModelParams
from storylab.modeling import build_tiny_model, train_tiny_tokenizer
from storylab.prompts import qa_records, story_records
from storylab.training import sft_trainer_class, trainer_defaults

STORIES = [{"text": "Aldith Varnholt was born in Kelmscar. Lady Varnholt died in Ironbridge."},
           {"text": "Hugh Oakmere served as Royal Falconer. Hugh Oakmere married Sibyl Harte."}]
QA = [{"question": "Where was Aldith Varnholt born?", "answer": "Kelmscar"},
      {"question": "Whom did Hugh Oakmere marry?", "answer": "Sibyl Harte"}]


@pytest.mark.skipif(torch.cuda.is_available(), reason="on GPU the TRL trainer is used as is")
def test_model_loss_trainer_matches_trl_loss_on_the_same_batch():
    model_params = ModelParams.model_validate(tiny_params()["model"])
    tokenizer = train_tiny_tokenizer([s["text"] for s in STORIES] + [q["question"] for q in QA], 400)
    records = story_records(STORIES) + qa_records(tokenizer, QA, model_params)
    config = SFTConfig(output_dir="/tmp/storylab-test-trainer", completion_only_loss=True, max_length=64,
                       per_device_train_batch_size=4, **trainer_defaults(model_params, 0))
    losses = {}
    for name, trainer_class in (("trl", SFTTrainer), ("model", sft_trainer_class())):
        trainer = trainer_class(model=build_tiny_model(model_params, tokenizer, seed=0), args=config,
                                train_dataset=Dataset.from_list(records), processing_class=tokenizer)
        batch = next(iter(trainer.get_train_dataloader()))
        assert (batch["labels"] == -100).any() and (batch["labels"] != -100).any()  # prompts are masked
        losses[name] = trainer.compute_loss(trainer.model, batch).item()
    assert sft_trainer_class() is not SFTTrainer
    assert losses["model"] == pytest.approx(losses["trl"], rel=1e-4)
