"""Virtual repositories over members that answer from memory."""

from __future__ import annotations

from dataclasses import replace

import pytest
from packaging.utils import NormalizedName

from qarion_pypi.repositories.base import BytesResource
from qarion_pypi.repositories.records import RepositoryKind, VirtualSettings
from qarion_pypi.repositories.virtual import VirtualRepository
from tests.fakes.repository import StaticRepository, record

pytestmark = pytest.mark.anyio


def _virtual(*members: StaticRepository, merge: bool = False) -> VirtualRepository:
    settings = VirtualSettings(merge=merge, upload_target_id=None)
    own = replace(record("virtual", RepositoryKind.VIRTUAL), virtual=settings)
    return VirtualRepository(own, list(members), site="/api/v1.0")


async def test_first_member_owns_a_project_entirely() -> None:
    private = StaticRepository({"internal": ["internal-1.0-py3-none-any.whl"]}, slug="private")
    public = StaticRepository(
        {"internal": ["internal-9.0-py3-none-any.whl"], "requests": ["requests-2.0-py3-none-any.whl"]}, slug="public"
    )
    virtual = _virtual(private, public)
    page = await virtual.project_page(NormalizedName("internal"))
    assert page is not None and [f.filename for f in page.files] == ["internal-1.0-py3-none-any.whl"]
    assert public.asked == []  # the private name never reaches the public member
    assert (await virtual.project_page(NormalizedName("requests"))) is not None
    assert [p.normalized_name for p in (await virtual.project_list()).projects] == ["internal", "requests"]


async def test_merge_takes_each_version_from_its_first_member() -> None:
    first = StaticRepository({"lib": ["lib-1.0-py3-none-any.whl", "lib-2.0.tar.gz"]}, slug="a")
    second = StaticRepository({"lib": ["lib-2.0-py3-none-any.whl", "lib-3.0-py3-none-any.whl"]}, slug="b")
    page = await _virtual(first, second, merge=True).project_page(NormalizedName("lib"))
    assert page is not None
    assert [f.filename for f in page.files] == [
        "lib-1.0-py3-none-any.whl",
        "lib-2.0.tar.gz",
        "lib-3.0-py3-none-any.whl",
    ]
    assert page.versions == ["1.0", "2.0", "3.0"]
    assert page.alternate_locations == [  # PEP 708: each member's own index
        "/api/v1.0/pypi/spaces/acme/repositories/a/simple/lib/",
        "/api/v1.0/pypi/spaces/acme/repositories/b/simple/lib/",
    ]


async def test_entries_keep_their_links_relative_so_the_virtual_root_serves_them() -> None:
    member = StaticRepository({"lib": ["lib-1.0-py3-none-any.whl"]}, slug="m")
    page = await _virtual(member).project_page(NormalizedName("lib"))
    assert page is not None and page.files[0].url == "files/m:lib-1.0-py3-none-any.whl/lib-1.0-py3-none-any.whl"


async def test_a_file_is_served_by_the_member_that_has_it() -> None:
    first = StaticRepository({"a": ["a-1.0-py3-none-any.whl"]}, slug="one")
    second = StaticRepository({"b": ["b-1.0-py3-none-any.whl"]}, slug="two")
    virtual = _virtual(first, second)
    found = await virtual.resource("two:b-1.0-py3-none-any.whl", "b-1.0-py3-none-any.whl")
    assert isinstance(found, BytesResource) and found.body == b"b-1.0-py3-none-any.whl"
    assert await virtual.resource("two:b-1.0-py3-none-any.whl", "a-1.0-py3-none-any.whl") is None
    assert await virtual.resource("nobody:x", "x") is None


async def test_pages_are_cacheable_only_while_every_member_is() -> None:
    hosted = StaticRepository({}, slug="h")
    assert _virtual(hosted).cache_key() is not None
    assert _virtual(hosted, StaticRepository({}, slug="p", cacheable=False)).cache_key() is None
