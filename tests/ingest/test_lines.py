from gateway.ingest.lines import LineSplitter


def test_lines_split_across_chunks() -> None:
    splitter = LineSplitter(cap=20)
    assert splitter.feed(b"ab") == []
    assert splitter.feed(b"c\nde\r\nf") == [b"abc", b"de\r"]
    assert splitter.feed(b"\n") == [b"f"]


def test_an_overlong_line_is_cut_and_the_next_line_is_whole() -> None:
    splitter = LineSplitter(cap=10)
    assert splitter.feed(b"x" * 8) == []
    assert splitter.feed(b"y" * 8) == [b"x" * 8 + b"yy"]  # cut at the cap, as soon as it is over
    assert splitter.feed(b"zzz\nok\n") == [b"ok"]  # the rest of the long line is dropped: resync at \n
    assert splitter.feed(b"q" * 30 + b"\nok2\n") == [b"q" * 10, b"ok2"]


def test_reset_forgets_a_partial_line() -> None:
    splitter = LineSplitter()
    splitter.feed(b"half a li")
    splitter.reset()
    assert splitter.feed(b"ne\n") == [b"ne"]
