PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean sample-data

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/rasterclass classify sample_data/scene.tif -t sample_data/training.gpkg -c class \
		--legend sample_data/legend.csv -m rf --seed 0 -o out/landcover.tif \
		--probabilities out/probabilities.tif --uncertainty out/uncertainty.tif --aoa out/aoa.tif \
		--save-model out/model.skops --report out/cross_validation.md --overwrite
	$(BIN)/rasterclass assess out/landcover.tif -r sample_data/validation.gpkg -c class \
		-o out/accuracy.md --overwrite
	$(BIN)/rasterclass assess out/landcover.tif -r sample_data/validation.gpkg -c class \
		-o out/accuracy.json --overwrite -q
	$(BIN)/rasterclass sieve out/landcover.tif --mmu 0.5ha -o out/landcover_mmu.tif --overwrite
	$(BIN)/rasterclass polygonize out/landcover_mmu.tif -o out/landcover_mmu.gpkg --overwrite
	$(BIN)/rasterclass areas out/landcover.tif -o out/areas.json --overwrite
	$(BIN)/rasterclass quicklook out/landcover.tif -o out/landcover.png --overwrite
	$(BIN)/rasterclass report out/landcover.tif --accuracy out/accuracy.json --model out/model.skops \
		--uncertainty out/uncertainty.tif --aoa out/aoa.tif --areas out/areas.json \
		-o out/report.html --json out/report.json --overwrite
	@echo "Outputs are under out/ (see README.md); open out/report.html in a browser"

test: $(STAMP)
	SCIPY_ARRAY_API=1 $(BIN)/python -m pytest -n 2 -q --durations=10

lint: $(STAMP)
	$(BIN)/ruff check src tests $(wildcard benchmarks) sample_data
	$(BIN)/mypy src

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_predict.py

sample-data: $(STAMP)
	$(BIN)/python sample_data/make_sample_data.py

clean:
	rm -rf $(VENV) out .pytest_cache
