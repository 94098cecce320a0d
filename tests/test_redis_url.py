import pytest

from channelstream.redis_url import check_redis_url


@pytest.mark.parametrize(
    "url",
    [
        "redis://127.0.0.1:6379/0",
        "rediss://user:pw@cache.example:6380",
        "unix:///run/redis.sock?db=2",
        "redis+sentinel://s1:26379,s2:26379/mymaster/1",
    ],
)
def test_urls_of_every_scheme_pass_unchanged(url: str) -> None:
    assert check_redis_url(f"  {url} ") == url


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("127.0.0.1:6379", "must start with one of"),
        ("http://127.0.0.1", "must start with one of"),
        ("redis://127.0.0.1:port/0", "the port must be a number"),
        ("redis://127.0.0.1:6379/zero", "must be a number"),
        ("redis://127.0.0.1:6379/0/1", "names one Redis database"),
        ("redis://127.0.0.1:6379?db=x", "must be a number"),
        ("redis+sentinel://s1:26379", "names the service"),
    ],
)
def test_a_malformed_url_is_one_clear_sentence(url: str, said: str) -> None:
    with pytest.raises(ValueError, match=said):
        check_redis_url(url)
