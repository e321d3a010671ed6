# geonoise: two commands set everything up on a fresh machine.
#   make demo   — create .venv, install, run the pipeline on sample_data/ (outputs in demo_out/)
#   make test   — create .venv, install, run the test suite
# A GPU user picks another torch build, e.g.:  make test TORCH_SPEC="torch==2.13.0" PIP_ARGS="--index-url ..."

PYTHON     ?= python3
VENV       ?= .venv
TORCH_SPEC ?= torch==2.13.0
PIP_ARGS   ?=
DEMO_OUT   ?= demo_out
DEMO_STEPS ?= 300

PY    := $(VENV)/bin/python
STAMP := $(VENV)/.geonoise-installed

.PHONY: demo test lint format sample-data docs-figure bench-tile bench-quality bench-real clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# torch first (the pinned CPU build from local disk), then the package: a range that the
# installed torch satisfies makes pip keep it instead of pulling a multi-GB CUDA build.
$(STAMP): setup.py | $(PY)
	$(PY) -m pip install $(PIP_ARGS) "$(TORCH_SPEC)"
	$(PY) -m pip install $(PIP_ARGS) -e ".[dev]"
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

demo: $(STAMP)
	@rm -rf $(DEMO_OUT) && mkdir -p $(DEMO_OUT)
	$(VENV)/bin/geonoise synth -o $(DEMO_OUT)/synth --size 512 512 --style tropical --seed 7
	$(VENV)/bin/geonoise tile sample_data/source/scene.tif \
		--labels sample_data/source/labels_clean.tif -o $(DEMO_OUT)/tiles_source --size 256 --overlap 32
	$(VENV)/bin/geonoise tile sample_data/target/scene.tif \
		--labels sample_data/target/labels_noisy.gpkg -o $(DEMO_OUT)/tiles_target --size 256 --overlap 32
	$(VENV)/bin/geonoise train-teacher --print-config > $(DEMO_OUT)/config.yaml
	$(VENV)/bin/geonoise train-teacher $(DEMO_OUT)/tiles_source -o $(DEMO_OUT)/teacher.ckpt \
		--config $(DEMO_OUT)/config.yaml --steps $(DEMO_STEPS) --batch-size 4
	$(VENV)/bin/geonoise train-student $(DEMO_OUT)/tiles_target --teacher $(DEMO_OUT)/teacher.ckpt \
		-o $(DEMO_OUT)/student.ckpt --config $(DEMO_OUT)/config.yaml --steps $(DEMO_STEPS) --batch-size 4 \
		--rounds 2
	$(VENV)/bin/geonoise export $(DEMO_OUT)/student.ckpt -o $(DEMO_OUT)/student.onnx
	$(VENV)/bin/geonoise detect sample_data/target/scene.tif -l sample_data/target/labels_noisy.gpkg \
		-m $(DEMO_OUT)/student.onnx -o $(DEMO_OUT)/noise.tif
	$(VENV)/bin/geonoise detect --tiles $(DEMO_OUT)/tiles_target -m $(DEMO_OUT)/student.onnx \
		-o $(DEMO_OUT)/ranking
	$(VENV)/bin/geonoise vectorize $(DEMO_OUT)/noise.tif -o $(DEMO_OUT)/noise_polygons.gpkg \
		--min-area 2 --simplify 0.25
	$(VENV)/bin/geonoise fix sample_data/target/labels_noisy.gpkg --noise $(DEMO_OUT)/noise.tif \
		--class-field class -o $(DEMO_OUT)/labels_fixed.gpkg
	$(VENV)/bin/geonoise evaluate $(DEMO_OUT)/noise.tif --truth sample_data/target/noise_truth.tif \
		--polygons $(DEMO_OUT)/noise_polygons.gpkg --tiles $(DEMO_OUT)/tiles_target \
		--plot $(DEMO_OUT)/pr.png
	@echo
	@echo "Demo outputs: each layer opens styled in QGIS (a .qml beside each raster and the"
	@echo "vector formats other than GeoPackage; GeoPackages hold their style inside):"
	@echo "  $(DEMO_OUT)/synth/                a generated scene: labels (outlines), noise truth and objects (by kind)"
	@echo "  $(DEMO_OUT)/tiles_source/tiles.gpkg  tile index of the clean source scene (outlines)"
	@echo "  $(DEMO_OUT)/tiles_target/tiles.gpkg  tile index of the noisy target scene (vector labels burned)"
	@echo "  $(DEMO_OUT)/config.yaml            the reference training config (geonoise train-teacher --print-config)"
	@echo "  $(DEMO_OUT)/teacher.ckpt, teacher.curves.png  the teacher (clean source labels) and its learning curves"
	@echo "  $(DEMO_OUT)/student.round1.ckpt    the student (noisy target labels, guided by the teacher)"
	@echo "  $(DEMO_OUT)/student.round2.ckpt    Noisy Student round 2: taught by round 1, on the labels round 1"
	@echo "                                    cleaned (student.round2.tiles/); student.ckpt is a copy of it"
	@echo "  $(DEMO_OUT)/student.onnx           the student exported to ONNX (what detect ran)"
	@echo "  $(DEMO_OUT)/noise.tif              noise score, orange to red from 0.5 (style noise.qml)"
	@echo "  $(DEMO_OUT)/noise.classes.tif      given label and predicted class (style noise.classes.qml)"
	@echo "  $(DEMO_OUT)/noise.quicklook.png    the scene, label outlines and suspects at a glance"
	@echo "  $(DEMO_OUT)/noise_polygons.gpkg    suspect regions coloured by kind (missing / spurious / boundary / ...)"
	@echo "  $(DEMO_OUT)/labels_fixed.gpkg      the target's labels with the confident changes applied"
	@echo "  $(DEMO_OUT)/labels_fixed.review.gpkg  one feature per change, status=proposed: accept or reject in QGIS,"
	@echo "                                    then: geonoise fix sample_data/target/labels_noisy.gpkg --class-field class \\"
	@echo "                                      --apply $(DEMO_OUT)/labels_fixed.review.gpkg -o reviewed.gpkg"
	@echo "  $(DEMO_OUT)/ranking/ranking.csv, ranking.gpkg  target tiles from least to most noisy (graduated by score)"
	@echo "  $(DEMO_OUT)/ranking/noise/         a noise map per tile (styled as noise.tif)"
	@echo "  $(DEMO_OUT)/pr.png                 precision-recall of the noise map against the truth (table above)"
	@echo "Open them with the scene: sample_data/target/scene.tif. The truth of the noise:"
	@echo "sample_data/target/noise_truth.tif and noise_objects.gpkg. docs/qgis_demo.jpg shows them in QGIS."

sample-data: $(STAMP)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" bash sample_data/regenerate.sh

# The README's picture of the demo in QGIS (needs `make demo` first and Debian's qgis, python3-qgis).
docs-figure:
	@test -d $(DEMO_OUT) || (echo "run make demo first"; exit 1)
	QT_QPA_PLATFORM=offscreen /usr/bin/python3 docs/qgis_render.py docs/qgis_demo.json

# Detection quality against the baselines (cleanlab included): tens of minutes on a laptop CPU.
bench-quality: $(STAMP)
	$(PY) -m pip install $(PIP_ARGS) -e ".[bench]"
	$(PY) benchmarks/bench_quality.py

# Real scenes (NEON tree crowns, Landsat land cover): about 30 minutes on 2 cores; fetches the
# deepforest wheel once with pip download for its example scenes.
bench-real: $(STAMP)
	$(PY) -m pip install $(PIP_ARGS) -e ".[bench]"
	$(PY) benchmarks/bench_real.py

bench-tile: $(STAMP)
	@command -v gdal_retile.py >/dev/null && test -x /usr/bin/time || \
		(apt-get update && apt-get install -y gdal-bin python3-gdal time)
	$(PY) benchmarks/bench_tile.py

clean:
	rm -rf $(DEMO_OUT) build *.egg-info .pytest_cache .ruff_cache
