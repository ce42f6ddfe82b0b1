"""Train the Ames model the usual MLflow way and save it for ``mlflow models serve``.

Runs inside the MLflow virtualenv that benchmarks/serving.py makes (shipyard is not
installed there).  The model is the one shipyard's quickstart trains — median
imputation and standard scaling of numbers, one-hot categories (unknown ones ignored),
scikit-learn's HistGradientBoostingRegressor — as one sklearn Pipeline, saved with its
signature by ``mlflow.sklearn.save_model``.  Prints one JSON line about what it made.

    python benchmarks/serving/mlflow_model.py --data ames.csv.gz --output ames-model
"""

from __future__ import annotations

import argparse
import inspect
import json
import time
from importlib import metadata

import mlflow
import mlflow.sklearn
import pandas as pd
import sklearn
from mlflow.models import infer_signature
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

TRUSTED_TYPES = ["numpy.dtype", "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"]


def ames_pipeline(features: pd.DataFrame, *, seed: int) -> Pipeline:
    numeric = features.select_dtypes("number").columns.tolist()
    categorical = [column for column in features.columns if column not in numeric]
    preprocess = ColumnTransformer(
        [
            (
                "numeric",
                Pipeline(
                    [("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]
                ),
                numeric,
            ),
            (
                "categorical",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy="constant", fill_value="missing")),
                        (
                            "onehot",
                            # Dense: HistGradientBoosting does not take sparse input.
                            OneHotEncoder(
                                handle_unknown="ignore", max_categories=50, sparse_output=False
                            ),
                        ),
                    ]
                ),
                categorical,
            ),
        ]
    )
    return Pipeline(
        [("preprocess", preprocess), ("model", HistGradientBoostingRegressor(random_state=seed))]
    )


def installed(*names: str) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="the Ames table (CSV, may be gzipped)")
    parser.add_argument("--target", default="Sale_Price")
    parser.add_argument("--output", required=True, help="folder to save the MLflow model in")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    started = time.perf_counter()
    # Read as shipyard.demo_data.load_ames does: only empty cells are missing.
    frame = pd.read_csv(args.data, keep_default_na=False, na_values=[""])
    features = frame.drop(columns=[args.target])
    target = frame[args.target]
    train_x, eval_x, train_y, eval_y = train_test_split(
        features, target, test_size=0.2, random_state=42
    )
    model = ames_pipeline(features, seed=args.seed).fit(train_x, train_y)
    r2 = r2_score(eval_y, model.predict(eval_x))
    signature = infer_signature(train_x, model.predict(train_x))
    options = {}
    if "skops_trusted_types" in inspect.signature(mlflow.sklearn.save_model).parameters:
        # MLflow 3.x saves with skops, which asks which types to trust: the ones in the
        # trees of a model we just trained ourselves.
        options["skops_trusted_types"] = TRUSTED_TYPES
    mlflow.sklearn.save_model(model, args.output, signature=signature, **options)
    print(
        json.dumps(
            {
                "r2": round(float(r2), 4),
                "train_rows": len(train_x),
                "eval_rows": len(eval_x),
                "seconds": round(time.perf_counter() - started, 2),
                "mlflow": mlflow.__version__,
                "scikit_learn": sklearn.__version__,
                "pandas": pd.__version__,
                "server_packages": installed("fastapi", "uvicorn", "uvloop", "httptools"),
            }
        )
    )


if __name__ == "__main__":
    main()
