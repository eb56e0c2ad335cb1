"""A local pipeline run keeps what its tasks print in one log per task and reports each task's end;
a failed task is named with its last line and its log. Real kfp.local runs of a two-task pipeline."""

import pytest
from kfp import dsl

from corridos.errors import PipelineTaskError
from corridos.mlops.kfp_runner import LOGS, run_quietly


@dsl.component(base_image="python:3.11", install_kfp_package=False)
def speak(words: str) -> str:
    print(f"saying {words}")
    return words


@dsl.component(base_image="python:3.11", install_kfp_package=False)
def refuse(words: str) -> str:
    print(f"refusing {words}")
    raise ValueError(f"cannot take {words!r}")


@dsl.pipeline(name="talk")
def talk(words: str = "hola"):
    speak(words=words)


@dsl.pipeline(name="talk-then-refuse")
def talk_then_refuse(words: str = "hola"):
    said = speak(words=words)
    refuse(words=said.output)


def test_each_task_prints_into_its_own_log_not_on_the_console(tmp_path, capsys):
    ends = []
    run = run_quietly(lambda: talk(words="hola"), tmp_path / "pipeline", ends.append)

    assert run.parent == tmp_path / "pipeline" and run.name.startswith("talk-")
    assert "saying hola" in (run / LOGS / "speak.log").read_text()
    assert "Running pipeline" in (run / LOGS / "pipeline.log").read_text()
    assert [(end.task, end.succeeded) for end in ends] == [("speak", True)]
    assert capsys.readouterr().out == ""


def test_a_failed_task_is_named_with_its_reason_and_log(tmp_path):
    ends = []
    with pytest.raises(PipelineTaskError) as raised:
        run_quietly(lambda: talk_then_refuse(words="hola"), tmp_path / "pipeline", ends.append)

    error = raised.value
    assert error.task == "refuse" and error.reason == "ValueError: cannot take 'hola'"
    assert error.log.parent.name == LOGS and error.log.parent.parent.name.startswith("talk-then-refuse-")
    assert "refusing hola" in error.log.read_text()
    assert [(end.task, end.succeeded) for end in ends] == [("speak", True), ("refuse", False)]


def test_the_log_router_takes_lines_from_tasks_running_in_parallel_threads(tmp_path):
    """kfp's newer local orchestrator runs independent tasks in threads: one task's start closes
    the log file another task is writing to, which must not fail the run."""
    import threading

    from corridos.mlops.kfp_runner import TaskLogRouter

    ended = []
    router = TaskLogRouter(tmp_path / "logs", ended.append)

    def task(name: str) -> None:
        for index in range(300):
            router.write(f"Executing task '{name}'\n" if index % 50 == 0 else f"{name} line {index}\n")
        router.write(f"Task '{name}' finished with status SUCCESS\n")

    threads = [threading.Thread(target=task, args=(f"task-{i}",)) for i in range(4)]
    with router.capturing():
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    lines = sum(len(p.read_text().splitlines()) for p in (tmp_path / "logs").glob("*.log"))
    assert lines == 4 * 301 and sorted(end.task for end in ended) == [f"task-{i}" for i in range(4)]
