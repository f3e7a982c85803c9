"""Display filter syntax: what parses, what it means structurally, and how mistakes are reported."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from layerpeek import filter as lpf
from layerpeek.filter.ast import And, Compare, Exists, FieldRef, Literal, Member, Not, Or, Range
from layerpeek.filter.fields import FIELDS


def test_symbols_and_words_parse_to_the_same_tree() -> None:
    assert lpf.parse("tcp.port == 80 && !udp || dns") == lpf.parse(
        "tcp.port eq 80 and not udp or dns"
    )


def test_and_binds_tighter_than_or() -> None:
    tree = lpf.parse("tcp or udp and dns")
    udp_and_dns = And(Exists(FieldRef("udp")), Exists(FieldRef("dns")))
    assert tree == Or(Exists(FieldRef("tcp")), udp_and_dns)


def test_not_applies_to_the_next_test_only() -> None:
    tree = lpf.parse("not tcp.port == 80 and udp")
    not_80 = Not(Compare("==", FieldRef("tcp.port"), Literal("80")))
    assert tree == And(not_80, Exists(FieldRef("udp")))


def test_parentheses_regroup() -> None:
    tree = lpf.parse("(tcp or udp) and dns")
    assert isinstance(tree, And) and isinstance(tree.left, Or)


def test_a_known_field_on_the_right_is_a_field_and_anything_else_a_literal() -> None:
    assert lpf.parse("ip.src == ip.dst") == Compare("==", FieldRef("ip.src"), FieldRef("ip.dst"))
    assert lpf.parse("http.request.method == GET") == Compare(
        "==", FieldRef("http.request.method"), Literal("GET")
    )


def test_quoted_strings_keep_their_escapes_decoded() -> None:
    tree = lpf.parse(r'http.host == "a\"b\\c\x41\101"')
    assert tree == Compare("==", FieldRef("http.host"), Literal('a"b\\cAA', quoted=True))


def test_sets_take_values_ranges_and_optional_commas() -> None:
    tree = lpf.parse("tcp.port in {80, 443 8000..8080}")
    items = (Literal("80"), Literal("443"), Range(Literal("8000"), Literal("8080")))
    assert tree == Member(FieldRef("tcp.port"), items)


def test_addresses_and_networks_are_single_words() -> None:
    for value in ("10.0.0.0/8", "fe80::1", "2001:db8::/32", "00:11:22:33:44:55", "0x1f"):
        tree = lpf.parse(f"ip.addr == {value}")
        assert isinstance(tree, Compare) and tree.right == Literal(value)


@pytest.mark.parametrize(
    ("expression", "column", "words"),
    [
        ("tcp.port ==", 11, "expected a value after '=='"),
        ("tcp.prot == 80", 0, "did you mean 'tcp.port'"),
        ("(tcp or udp", 11, "expected ')' to close the '(' at column 1"),
        ("tcp or udp)", 10, "unbalanced ')'"),
        ("tcp.port 80", 9, "expected an operator"),
        ('http.host == "open', 13, "string is not closed"),
        ("tcp.port in {80 443", 19, "is not closed"),
        ("tcp.port in {}", 13, "the set is empty"),
        ("tcp.port == 80 $", 15, "unexpected character '$'"),
        ("", 0, "the filter is empty"),
        ("and tcp", 0, "expected a field or protocol name"),
        ("ip.src == 10.0.0.300", 10, "not a valid IPv4 address"),
        ("tcp.port == web", 12, "not a valid unsigned integer"),
        ("tcp.port == http", 12, "http has no value to compare"),
        ("tcp.analysis.flags == 1", 0, "has no value to compare"),
        ("frame.number contains 3", 22, "contains works on strings"),
        ('http.host matches "("', 18, "bad regular expression"),
        ("eth.src == 00:11:22", 11, "not a valid MAC address"),
        ("ip.src > 10.0.0.0/8", 9, "only works with == and !="),
    ],
)
def test_mistakes_name_the_problem_and_point_at_its_column(
    expression: str, column: int, words: str
) -> None:
    with pytest.raises(lpf.FilterSyntaxError) as caught:
        lpf.compile(expression)
    error = caught.value
    assert words in error.message
    assert error.column == column
    if expression:
        text, carets = error.pointer().split("\n")
        assert text == expression
        assert carets.index("^") == column


def test_the_caret_line_underlines_the_whole_bad_word() -> None:
    with pytest.raises(lpf.FilterSyntaxError) as caught:
        lpf.compile("tcp.port == 80 and ip.sorc == 1.2.3.4")
    assert caught.value.pointer().splitlines()[1] == " " * 19 + "^" * len("ip.sorc")


@pytest.mark.parametrize(
    "expression",
    [" and ".join(["tcp"] * 5000), "!" * 5000 + "tcp", "(" * 300 + "tcp" + ")" * 300],
)
def test_absurdly_deep_filters_are_refused_not_a_recursion_error(expression: str) -> None:
    with pytest.raises(lpf.FilterSyntaxError, match="nested"):
        lpf.compile(expression)


def test_long_but_reasonable_filters_compile() -> None:
    assert str(lpf.compile(" or ".join(f"tcp.port == {p}" for p in range(300))))


def test_filter_errors_are_layerpeek_errors() -> None:
    from layerpeek.errors import LayerpeekError

    assert issubclass(lpf.FilterSyntaxError, LayerpeekError)


# ------------------------------------------------------------------ properties

_NAMES = sorted(FIELDS)
_WORDS = st.sampled_from(["80", "0x50", "10.0.0.0/8", "::1", "GET", "aa:bb:cc", "1.5", "-3"])
_STRINGS = st.text(alphabet=st.characters(codec="utf-8"), max_size=12)


@st.composite
def _values(draw: st.DrawFn) -> Literal | FieldRef:
    kind = draw(st.integers(0, 2))
    if kind == 0:
        return Literal(draw(_WORDS))
    if kind == 1:
        return Literal(draw(_STRINGS), quoted=True)
    return FieldRef(draw(st.sampled_from(_NAMES)))


_LEAVES = st.one_of(
    st.builds(lambda n: Exists(FieldRef(n)), st.sampled_from(_NAMES)),
    st.builds(
        lambda n, op, v: Compare(op, FieldRef(n), v),
        st.sampled_from(_NAMES),
        st.sampled_from(["==", "!=", "===", "!==", "<", ">", "<=", ">="]),
        _values(),
    ),
    st.builds(
        lambda n, op, s: Compare(op, FieldRef(n), Literal(s, quoted=True)),
        st.sampled_from(_NAMES),
        st.sampled_from(["contains", "matches"]),
        _STRINGS,
    ),
    st.builds(
        lambda n, items: Member(FieldRef(n), tuple(items)),
        st.sampled_from(_NAMES),
        st.lists(
            st.one_of(
                _WORDS.map(Literal),
                st.builds(lambda a, b: Range(Literal(a), Literal(b)), _WORDS, _WORDS),
            ),
            min_size=1,
            max_size=4,
        ),
    ),
)
_TREES = st.recursive(
    _LEAVES,
    lambda inner: st.one_of(
        st.builds(Not, inner), st.builds(And, inner, inner), st.builds(Or, inner, inner)
    ),
    max_leaves=12,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(_TREES)
def test_printing_a_tree_and_parsing_it_back_gives_the_same_tree(tree: object) -> None:
    text = lpf.to_text(tree)  # type: ignore[arg-type]
    assert lpf.parse(text) == tree
    assert lpf.to_text(lpf.parse(text)) == text


@settings(max_examples=300)
@given(_TREES)
def test_parse_print_parse_is_stable_for_any_spelling(tree: object) -> None:
    once = lpf.parse(lpf.to_text(tree))  # type: ignore[arg-type]
    assert lpf.parse(lpf.to_text(once)) == once


_FRAGMENTS = st.lists(
    st.one_of(
        st.sampled_from(
            ["tcp", "ip.src", "tcp.port", "==", "!=", "&&", "||", "!", "(", ")", "{", "}", "..",
             ",", "in", "and", "or", "not", "contains", "matches", '"', "\\", "80", "10.0.0.0/8",
             "~", "<", ">=", "===", " ", "\t", "dns.qry.name", "\"x\"", "0x", "[", "$"]
        ),
        st.text(max_size=3),
    ),
    max_size=12,
).map(" ".join)


@settings(max_examples=1500)
@given(st.one_of(_FRAGMENTS, st.text(max_size=40)))
def test_any_text_compiles_or_raises_a_filter_syntax_error(text: str) -> None:
    try:
        compiled = lpf.compile(text)
    except lpf.FilterSyntaxError as e:
        assert 0 <= e.column <= len(text)
        assert e.message
    else:
        assert lpf.parse(str(compiled)) == compiled.node
