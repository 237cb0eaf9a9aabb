# Two commands for a newcomer: `make demo` and `make test`. Both set up .venv from nothing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PORT   ?= 8888
# Phone photos are 8-20 MB; Tornado's default websocket message limit (10 MiB) would drop such uploads,
# so the demo raises it. JupyterLab refuses to run as root unless told; containers and CI machines often are root.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: setup demo app test lint unit bench clean browser smoke docs dist

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m compileall -q kling_widgets
	touch $(STAMP)

setup: $(STAMP)

# The demo opens a working copy (.demo/, git-ignored): what you run and save never touches the tracked
# tutorial. The URL is printed with its token, so it opens the notebook, not a login page.
TOKEN := $(shell $(PYTHON) -c "import secrets; print(secrets.token_hex(16))")
demo: setup
	@mkdir -p .demo
	@[ -f .demo/quickstart.ipynb ] || cp notebooks/quickstart.ipynb .demo/quickstart.ipynb
	@echo "Opening a working copy of notebooks/quickstart.ipynb in JupyterLab:"
	@echo "    http://127.0.0.1:$(PORT)/lab/tree/quickstart.ipynb?token=$(TOKEN)"
	@echo "No KLING_API_KEY set? The notebook runs against the built-in simulator (nothing is billed)."
	cd .demo && ../$(BIN)/jupyter lab --ip=127.0.0.1 --port=$(PORT) $(ALLOW_ROOT) \
		--IdentityProvider.token=$(TOKEN) --ServerApp.port_retries=0 \
		'--ServerApp.tornado_settings={"websocket_max_message_size": 209715200}' quickstart.ipynb

# The bundle as a standalone page (Voila): app/kling.ipynb, on PORT, key and address from the environment.
# The larger websocket message limit for phone photos is in app/voila.json (Voila reads it from the folder it
# starts in): a dict on the command line draws a deprecation warning from traitlets at every start, and the
# key=value form would pass the number as a string.
app: setup
	@echo "Serving the app at http://127.0.0.1:$(PORT)/ (Ctrl-C to stop)"
	cd app && ../$(BIN)/voila kling.ipynb --no-browser --Voila.ip=127.0.0.1 --port=$(PORT) --Voila.port_retries=0

lint: setup
	$(BIN)/ruff check kling_widgets tests benchmarks docs/conf.py docs/_ext
	$(BIN)/mypy

# The browser tests need Chromium, the shared-account tests a redis-server (started by the tests
# themselves), the front-end checks Node.js (tests/test_front_files.py). When one is missing, install it
# the way this machine allows: Debian's packages as root, otherwise Playwright's own Chromium build (its
# path is handed to the tests). Never skipped.
CHROMIUM ?= /usr/bin/chromium
browser: setup
	@if [ -x "$(CHROMIUM)" ] && command -v redis-server >/dev/null && command -v node >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing Debian's chromium, redis-server and nodejs for the tests"; \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core \
			redis-server nodejs >/dev/null; \
	elif [ ! -x "$(CHROMIUM)" ]; then \
		echo "No $(CHROMIUM): installing Playwright's Chromium"; $(BIN)/python -m playwright install chromium; \
	fi
	@command -v redis-server >/dev/null || echo "No redis-server: the shared-account tests will fail (apt-get install redis-server)"
	@command -v node >/dev/null || echo "No node: the front-end checks will fail (apt-get install nodejs)"

# The documentation site, into docs/_build/html: the tutorials executed against the simulator (cached under
# docs/_build/.jupyter_cache, so a rebuild with no tutorial changed executes nothing), the guide and the API
# reference. Warnings are errors and every cross-reference must resolve (-W -n); the tests then read the
# pages offline in Chromium and check every internal link.
docs: setup
	$(BIN)/sphinx-build -b html -W --keep-going -n -q docs docs/_build/html
	@echo "The site: docs/_build/html/index.html"

# What a pip user installs: the wheel and the sdist, checked by twine (the tests also install the wheel
# into a fresh environment and run the quickstart there).
dist: setup
	rm -rf dist
	$(BIN)/python -m build --outdir dist .
	$(BIN)/twine check --strict dist/*

test: lint browser docs
	@if [ -x "$(CHROMIUM)" ]; then CHROMIUM="$(CHROMIUM)" $(BIN)/python -m pytest; \
	else CHROMIUM="$$($(BIN)/python -c 'from playwright.sync_api import sync_playwright as p; m = p().start(); print(m.chromium.executable_path); m.stop()')" $(BIN)/python -m pytest; fi

# One real, paid end-to-end check against the service your key points at (never part of `make test`):
# the account is asked for free, the cost of one std 5 s video is said, and it is created only after you
# type "yes"; the video lands in artifacts/smoke/. Credentials from the environment; without them, exit 2.
smoke: setup
	$(BIN)/python -m kling_widgets.smoke --out artifacts/smoke

# Each prints its figures beside a baseline measured in the same run; the first that fails stops the rest.
BENCHMARKS = import_time images quality upload soak watching gallery journal batch_page batch_browser accounts \
	film published_page

bench: setup
	set -e; for name in $(BENCHMARKS); do $(BIN)/python benchmarks/$$name.py; done

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache artifacts .demo docs/_build dist
