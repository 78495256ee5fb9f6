from __future__ import annotations

import threading

import zstandard

from groups import zstd


def test_round_trip_and_interchange_with_zstandard():
    data = b'{"message": "hello"}' * 100
    assert zstd.decompress(zstd.compress(data, level=3)) == data
    assert zstandard.decompress(zstd.compress(data, level=1)) == data
    assert zstd.decompress(zstandard.compress(data, 3)) == data


def test_each_thread_has_its_own_contexts():
    data = bytes(range(256)) * 400
    results = []

    def work() -> None:
        results.append(
            all(zstd.decompress(zstd.compress(data, level=1)) == data for _ in range(50))
        )

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [True] * 4
