"""How many workers ``serve`` starts by default, and the metrics folder it sets up for them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from shared import workers
from shared.observability import serve
from shared.workers import (
    MULTIPROC_DIR_ENV,
    available_cpus,
    cgroup_cpu_limit,
    default_workers,
    metrics_folder,
)


def cgroup(root: Path, files: dict[str, str], own: str = "0::/\n") -> tuple[Path, Path]:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    proc = root / "proc-self-cgroup"
    proc.write_text(own)
    return root, proc


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"cpu.max": "150000 100000\n"}, 1.5),
        ({"cpu.max": "max 100000\n"}, None),
        ({"cpu/cpu.cfs_quota_us": "200000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 2.0),
        ({"cpu,cpuacct/cpu.cfs_quota_us": "50000\n"}, 0.5),  # period missing: the default
        ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
        ({"cpu.max": "garbage\n"}, None),
        ({}, None),
    ],
    ids=["v2", "v2-unlimited", "v1", "v1-default-period", "v1-unlimited", "unreadable", "none"],
)
def test_the_cgroup_cpu_quota_in_cpus(
    tmp_path: Path, files: dict[str, str], expected: float | None
) -> None:
    root, proc = cgroup(tmp_path, files)
    assert cgroup_cpu_limit(root, proc) == expected


def test_the_process_own_cgroup_v2_comes_first(tmp_path: Path) -> None:
    root, proc = cgroup(
        tmp_path,
        {"cpu.max": "max 100000\n", "system.slice/api.service/cpu.max": "300000 100000\n"},
        own="0::/system.slice/api.service\n",
    )
    assert cgroup_cpu_limit(root, proc) == 3.0


@pytest.mark.parametrize(
    ("limit", "expected"), [(None, 4), (1.5, 1), (2.0, 2), (0.25, 1), (16.0, 4)]
)
def test_available_cpus_is_the_affinity_capped_by_the_quota(
    monkeypatch: pytest.MonkeyPatch, limit: float | None, expected: int
) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1, 2, 3})
    monkeypatch.setattr(workers, "cgroup_cpu_limit", lambda: limit)
    assert available_cpus() == expected


def test_sqlite_gets_one_worker_postgresql_one_per_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workers, "available_cpus", lambda: 3)
    assert default_workers("sqlite:///./var/settlement.db") == 1
    assert default_workers("postgresql://medaid@db/settlement") == 3


def test_a_temporary_metrics_folder_is_set_for_the_workers_and_removed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(MULTIPROC_DIR_ENV, raising=False)
    with metrics_folder() as folder:
        assert os.environ[MULTIPROC_DIR_ENV] == str(folder)
        assert folder.is_dir()
        assert not any(folder.iterdir())
        (folder / "counter_123.db").write_bytes(b"x")
    assert not folder.exists()
    assert MULTIPROC_DIR_ENV not in os.environ


def test_the_operators_metrics_folder_is_emptied_and_kept(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / "counter_99.db").write_bytes(b"old run")
    (folder / "README").write_text("not ours")
    monkeypatch.setenv(MULTIPROC_DIR_ENV, str(folder))
    with metrics_folder() as given:
        assert given == folder
        assert sorted(p.name for p in folder.iterdir()) == ["README"]
    assert folder.is_dir()
    assert os.environ[MULTIPROC_DIR_ENV] == str(folder)


def test_several_workers_need_a_factory_import_string() -> None:
    with pytest.raises(ValueError, match="import string"):
        serve(object(), host="127.0.0.1", port=1, workers=2)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="import string"):
        serve("tests.ops.demo_app:create_app", host="127.0.0.1", port=1, workers=2)
