"""The scikit-learn peer of crmhost's cross-validation on the Telco file: the
same customers and the same folds (read from `crmhost backtest --folds
--folds-out`), LogisticRegression (C=1, the L2 penalty scorer_logit uses) on
one-hot categoricals and standardised numerics, missing numerics (the blank
TotalCharges) imputed with the training mean, fitted on the other folds for
each fold. Prints the ROC-AUC per fold, their mean and the pooled figure, or
with --json the same as JSON.
    /usr/bin/python3 bench/telco_peer.py TELCO.csv FOLDS.csv [--json]"""
import json
import sys

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

NUMERIC = ["SeniorCitizen", "tenure", "MonthlyCharges", "TotalCharges"]


def main(data_path, folds_path, as_json):
    data = pd.read_csv(data_path, dtype=str, keep_default_na=False)
    folds = pd.read_csv(folds_path, dtype={"external_id": str})
    data = data.merge(folds, left_on="customerID", right_on="external_id", how="inner")
    if len(data) != len(folds):
        raise SystemExit(f"{len(folds)} customers in {folds_path}, {len(data)} of them in {data_path}")
    label = data["churned"].astype(int).to_numpy()
    if not (label == (data["Churn"] == "Yes").astype(int).to_numpy()).all():
        raise SystemExit("crmhost's labels differ from the file's Churn column")
    for column in NUMERIC:
        data[column] = pd.to_numeric(data[column].str.strip(), errors="coerce")
    categorical = [c for c in data.columns if c not in NUMERIC + ["customerID", "Churn", "external_id", "churned", "fold"]]
    pipeline = make_pipeline(
        ColumnTransformer([
            ("numeric", make_pipeline(SimpleImputer(strategy="mean"), StandardScaler()), NUMERIC),
            ("categorical", OneHotEncoder(handle_unknown="ignore"), categorical),
        ]),
        LogisticRegression(C=1.0, max_iter=5000),
    )
    predicted = np.full(len(data), np.nan)
    fold_auc = []
    for fold in sorted(data["fold"].unique()):
        test = (data["fold"] == fold).to_numpy()
        model = pipeline.fit(data[~test], label[~test])
        predicted[test] = model.predict_proba(data[test])[:, 1]
        fold_auc.append(roc_auc_score(label[test], predicted[test]))
    result = {"peer": "sklearn LogisticRegression (C=1), one-hot categoricals, standardised numerics",
              "fold_roc_auc": fold_auc, "mean_roc_auc": float(np.mean(fold_auc)),
              "pooled_roc_auc": roc_auc_score(label, predicted), "customers": int(len(data))}
    if as_json:
        print(json.dumps(result))
    else:
        cells = " ".join(f"{auc:7.4f}" for auc in fold_auc)
        print(f"  {'sklearn peer':<28} {cells} {result['mean_roc_auc']:7.4f} {result['pooled_roc_auc']:7.4f}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], "--json" in sys.argv[3:])
