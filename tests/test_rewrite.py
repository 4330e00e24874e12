"""generate_stories' optional LLM retelling (storylab/rewrite.py): against a stub OpenAI-compatible server on
127.0.0.1 that answers one valid and one invalid retelling (kept / template restored), with the key read from the
environment and written nowhere; with a tiny local Hugging Face model; and the one-line errors."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import run_script, tiny_params, write_params
from storylab.modeling import build_tiny_model, train_tiny_tokenizer
from storylab.tasks.tag_story.generator import generate
from storylab.tasks.tag_story.task import check_tags

KEY = "sk-stub-secret-4242"
VALID_PREFIX = "Once upon a time, far from here: "


class StubChat(BaseHTTPRequestHandler):
    """/v1/chat/completions: the first request gets the story back retold (every tag kept), the next one a story
    that drops them."""
    requests: list[dict] = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        StubChat.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
        story = body["messages"][-1]["content"].split("Story:\n", 1)[1]
        text = VALID_PREFIX + story if len(StubChat.requests) == 1 else "A short tale with no names at all."
        reply = {"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                 "choices": [{"index": 0, "finish_reason": "stop",
                              "message": {"role": "assistant", "content": text}}]}
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def stub_server():
    StubChat.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), StubChat)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def generate_tag_sets(tmp_path, *settings: str, env: dict | None = None, check: bool = True):
    params = write_params(tmp_path, tiny_params())
    flags = [arg for setting in settings for arg in ("--set", f"generate_stories.rewrite.{setting}")]
    return run_script("generate_stories.py", "--task", "tag_story", "--params", str(params), *flags,
                      "--out_dir", str(tmp_path / "raw"), "--metrics", str(tmp_path / "g.json"), env=env, check=check)


def read_sets(tmp_path) -> list[dict]:
    return [json.loads(line) for line in (tmp_path / "raw/tag_sets.jsonl").read_text().splitlines()]


def test_openai_backend_keeps_a_valid_retelling_and_falls_back_on_an_invalid_one(tmp_path, stub_server):
    result = generate_tag_sets(tmp_path, "backend=openai", "model=stub-model", f"base_url={stub_server}",
                               "api_key_env=STUB_KEY", "max_records=2", env={"STUB_KEY": KEY})
    templates = generate(0, 40)
    sets = read_sets(tmp_path)
    assert sets[0]["story"] == VALID_PREFIX + templates[0]["story"]  # kept: every tag is still there
    assert check_tags(sets[0]["story"], sets[0]["tags"])["coverage"] == 1.0
    assert sets[1]["story"] == templates[1]["story"]  # dropped its tags: the template story again
    assert [r["story"] for r in sets[2:]] == [r["story"] for r in templates[2:]]  # beyond max_records: untouched
    stats = json.loads((tmp_path / "g.json").read_text())["rewrite"]
    assert stats == {"backend": "openai", "attempted": 2, "rewritten": 1, "fell_back": 1}
    assert [r["path"] for r in StubChat.requests] == ["/v1/chat/completions"] * 2
    assert StubChat.requests[0]["auth"] == f"Bearer {KEY}"  # the key came from the environment ...
    assert "Keep:" in StubChat.requests[0]["body"]["messages"][-1]["content"]
    written = result.stdout + result.stderr + "".join(p.read_text() for p in tmp_path.rglob("*") if p.is_file())
    assert KEY not in written  # ... and is written nowhere


def test_hf_backend_with_a_tiny_local_model_falls_back_when_it_loses_the_tags(tmp_path):
    """A random-weight local model retells nonsense: every story keeps its template, and nothing is downloaded."""
    texts = [r["story"] for r in generate(0, 40)]
    tokenizer = train_tiny_tokenizer(texts, 400)
    params = write_params(tmp_path, tiny_params())
    from storylab.config.loader import load_params
    model_params = load_params(params, "tag_story", ("model",)).model
    build_tiny_model(model_params, tokenizer, seed=0).save_pretrained(tmp_path / "local")
    tokenizer.save_pretrained(tmp_path / "local")
    generate_tag_sets(tmp_path, "backend=hf", f"model={tmp_path / 'local'}", "max_records=3", "max_new_tokens=8",
                      env={"HF_HUB_OFFLINE": "1"})
    assert [r["story"] for r in read_sets(tmp_path)] == texts
    assert json.loads((tmp_path / "g.json").read_text())["rewrite"] == {
        "backend": "hf", "attempted": 3, "rewritten": 0, "fell_back": 3}


@pytest.mark.parametrize("settings, env, message", [
    (("backend=openai", "model=m", "base_url=http://127.0.0.1:9/v1", "api_key_env=NO_SUCH_KEY_VAR"), {},
     "rewrite.api_key_env: the environment variable NO_SUCH_KEY_VAR is not set"),
    (("backend=openai", "model=m", "base_url=http://127.0.0.1:9/v1", "api_key_env=STUB_KEY"), {"STUB_KEY": KEY},
     "rewrite.base_url: cannot reach http://127.0.0.1:9/v1"),
    (("backend=openai", "model=m"), {}, "backend openai needs `base_url`"),
    (("backend=hf", "model=no/such-model"), {}, "rewrite.model: 'no/such-model' is not a local model dir"),
])
def test_rewrite_errors_are_one_line(tmp_path, settings, env, message):
    result = generate_tag_sets(tmp_path, *settings, env=env, check=False)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert message in result.stderr and KEY not in result.stderr
