"""The scikit-learn peer of scorer_logit: the same features (exported by
crm_scoring_bench export), the same log1p transform, standardisation and L2
penalty, LogisticRegression fitted on the training snapshot and applied to
the test snapshot. Prints the time of fit + predict and the ROC-AUC."""
import sys
import time

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler


def load(path):
    data = np.fromfile(path, dtype=np.float64).reshape(-1, 7)
    features = np.log1p(np.clip(data[:, :6], 0, None))
    return features, data[:, 6]


def main(directory):
    train_x, train_y = load(f"{directory}/train.f64")
    test_x, test_y = load(f"{directory}/test.f64")
    start = time.perf_counter()
    means = np.nanmean(train_x, axis=0)
    train_x = np.where(np.isnan(train_x), means, train_x)
    test_x = np.where(np.isnan(test_x), means, test_x)
    scaler = StandardScaler().fit(train_x)
    model = LogisticRegression(C=1.0, max_iter=1000).fit(scaler.transform(train_x), train_y)
    churn = model.predict_proba(scaler.transform(test_x))[:, 1]
    seconds = time.perf_counter() - start
    print(f"sklearn {seconds:.3f} s for fit on {len(train_y)} + predict on {len(test_y)}; "
          f"ROC-AUC {roc_auc_score(test_y, churn):.4f}")


if __name__ == "__main__":
    main(sys.argv[1])
