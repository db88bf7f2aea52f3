"""A directory of YAML files, watched by polling (cheap, portable, no extra dependency)."""

from __future__ import annotations

import asyncio
import os
import pathlib
import time
from collections.abc import Awaitable, Callable

SUFFIXES = (".yaml", ".yml", ".json")
Signature = dict[str, tuple[int, int]]


class ConfigDirError(Exception):
    pass


class DirectorySource:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = pathlib.Path(root)
        if not self.root.exists():
            raise ConfigDirError(f"config directory {str(self.root)!r} does not exist")
        if not self.root.is_dir():
            raise ConfigDirError(f"config path {str(self.root)!r} is not a directory")

    def _files(self) -> list[pathlib.Path]:
        return sorted(
            p
            for p in self.root.rglob("*")
            if p.suffix in SUFFIXES
            and p.is_file()
            and not any(part.startswith(".") for part in p.relative_to(self.root).parts)
        )

    def signature(self) -> Signature:
        out: Signature = {}
        for p in self._files():
            try:
                st = p.stat()
            except FileNotFoundError:
                continue
            out[str(p.relative_to(self.root))] = (st.st_mtime_ns, st.st_size)
        return out

    def read(self) -> dict[str, str | bytes]:
        """Display path (relative to the root) -> raw bytes (the loader decodes and reports)."""
        out: dict[str, str | bytes] = {}
        for p in self._files():
            try:
                out[str(p.relative_to(self.root))] = p.read_bytes()
            except FileNotFoundError:
                continue
        return out

    async def watch(
        self,
        on_change: Callable[[float], Awaitable[None]],
        *,
        interval: float = 0.1,
        quiet: float = 0.1,
        max_delay: float = 10.0,
    ) -> None:
        """Poll for changes; call `on_change` once the tree has been quiet for `quiet` seconds
        (or `max_delay` after the first change), like istiod's debounce (100 ms / 10 s).
        `on_change` gets the wall-clock time the first change was seen."""
        loop = asyncio.get_running_loop()
        last = self.signature()
        while True:
            await asyncio.sleep(interval)
            current = self.signature()
            if current == last:
                continue
            first_change = loop.time()
            first_seen = time.time()
            while True:
                last = current
                await asyncio.sleep(quiet)
                current = self.signature()
                if current == last or loop.time() - first_change >= max_delay:
                    break
            last = current
            await on_change(first_seen)
