from pathlib import Path

from setuptools import find_namespace_packages, setup

here = Path(__file__).parent
version = {}
for line in (here / "channelstream" / "version.py").read_text().splitlines():
    if line.startswith("__version__"):
        version["v"] = line.split("=")[1].strip().strip('"')

setup(
    name="channelstream",
    version=version["v"],
    description="A friendly and scalable real-time server for web applications",
    long_description=(here / "README.md").read_text() if (here / "README.md").exists() else "",
    long_description_content_type="text/markdown",
    license="BSD-3-Clause",
    license_files=["LICENSE"],
    url="https://pypi.org/project/channelstream/",
    classifiers=[
        "Framework :: Pyramid",
        "Programming Language :: Python :: 3",
        "Topic :: Internet :: WWW/HTTP :: WSGI :: Server",
    ],
    python_requires=">=3.10",
    # Namespace discovery lists channelstream/static/* too (data folders without an
    # __init__.py): setuptools warns about every folder it finds but is not told about.
    packages=find_namespace_packages(include=["channelstream", "channelstream.*"]),
    include_package_data=True,
    package_data={"channelstream": ["static/**/*", "static/*"]},
    zip_safe=False,
    install_requires=[
        "pyramid>=2.0,<3",
        "gevent>=23.9",
        "gevent-websocket>=0.10.1,<0.11",
        "httptools>=0.6,<1",
        "itsdangerous>=2.0,<3",
        "marshmallow>=3.20,<5",
        "waitress>=2.1",
        "wsproto>=1.2,<2",
        "orjson>=3.9",
        "hupper>=1.10",
        "PasteDeploy>=3.0",
        "plaster_pastedeploy>=1.0",
        # The admin's API explorer: OpenAPI from the marshmallow schemas, Swagger UI files.
        "apispec>=6.6,<7",
        "swagger-ui-bundle>=1.1,<2",
        # The Redis engine (several nodes as one): part of every install.
        "redis>=5.0,<9",
        "hiredis>=2.0",
        # /metrics: Prometheus' own client library (text format, multiprocess mode).
        "prometheus_client>=0.20",
    ],
    extras_require={
        # Kept so that `pip install channelstream[redis]` keeps working: Redis is included.
        "redis": [],
        "test": [
            "pytest>=8",
            "pytest-timeout>=2.3",
            "requests>=2.31",
            "websocket-client>=1.7",
            "webtest>=3.0",
            "playwright>=1.45",
            "flask>=3.0",
            "hypothesis>=6.100",
            # The suite fuzzes the server from its own /openapi.json.
            "schemathesis>=4.3,<5",
            # docs/prometheus-alerts.yml is read back by the suite.
            "PyYAML>=6",
        ],
        "dev": ["mypy>=1.10", "ruff>=0.6"],
    },
    entry_points={
        "paste.app_factory": ["main = channelstream:main"],
        "paste.server_runner": ["gevent = channelstream.server:serve"],
        "console_scripts": [
            "channelstream = channelstream.scripts.cli:main",
            "channelstream_utils = channelstream.scripts.utils:main",
        ],
    },
)
