"""How much ROC-AUC the purchase history can give at all (issue 4's quality rows).

For each row of ../shared/data/README.md (and three dates it does not list) this prints, on the same protocol
(population = customers with a purchase before T, churned = no purchase in
[T, T+H)):
  - the peers: recency alone, and scikit-learn's logistic regression on RFM
    trained at T-H (reproduces the README's figures);
  - an oracle: gradient-boosted trees with 5-fold cross-validation on the
    test period's own labels (look-ahead no real scorer may use), on 30+
    features (recency, frequency and spend in windows, monthly purchase counts
    over a year, the last three gaps, tenure and, for Online Retail, products,
    lines, quantities, cancellations, country and prices).
If the oracle cannot beat the best peer by 0.02, no honest model on this data can.
Run: /usr/bin/python3 bench/churn_ceiling.py   (needs python3-pandas, python3-sklearn)
"""
import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import cross_val_predict

DATA = "../shared/data"


def online_retail():
    lines = pd.read_csv(f"{DATA}/online_retail/online_retail_2010-12_2011-12.csv.gz",
                        dtype={"CustomerID": str, "InvoiceNo": str})
    lines = lines[lines.CustomerID.notna()].copy()
    lines["t"] = pd.to_datetime(lines.InvoiceDate)
    lines["amount"] = lines.Quantity * lines.UnitPrice
    lines["cancelled"] = lines.InvoiceNo.str.startswith("C")
    bought = lines[~lines.cancelled]
    orders = bought.groupby(["CustomerID", "InvoiceNo"]).agg(t=("t", "min"), amount=("amount", "sum")).reset_index()
    return orders.rename(columns={"CustomerID": "c"})[["c", "t", "amount"]], lines


def cdnow():
    rows = pd.read_csv(f"{DATA}/cdnow/CDNOW_master.txt", sep=r"\s+", header=None, skiprows=1,
                       names=["c", "d", "n", "amount"], dtype={"d": str})
    rows["t"] = pd.to_datetime(rows.d)
    return rows[["c", "t", "amount"]], None


def history_features(orders, as_of):
    past = orders[orders.t < as_of].copy()
    past["age"] = (as_of - past.t).dt.days
    by = past.groupby("c")
    f = pd.DataFrame({"recency": by.age.min(), "tenure": by.age.max(), "frequency": by.t.nunique(),
                      "monetary": by.amount.sum()})
    for window in [30, 90, 180, 365]:
        recent = past[past.age < window].groupby("c")
        f[f"n{window}"] = recent.t.nunique()
        f[f"m{window}"] = recent.amount.sum()
    for month in range(12):
        f[f"month{month}"] = past[(past.age >= 30 * month) & (past.age < 30 * (month + 1))].groupby("c").t.nunique()
    days = past.assign(day=past.t.dt.normalize()).drop_duplicates(["c", "day"]).sort_values(["c", "age"])
    days["rank"] = days.groupby("c").cumcount()
    for rank in range(1, 4):
        f[f"gap{rank}"] = days[days["rank"] == rank].set_index("c").age
    return f.fillna(-1)


def detail_features(lines, as_of):
    past = lines[lines.t < as_of]
    by = past.groupby("CustomerID")
    return pd.DataFrame({"lines": by.size(), "products": by.StockCode.nunique(), "quantity": by.Quantity.sum(),
                         "cancellations": by.cancelled.sum(), "uk": by.Country.first().eq("United Kingdom").astype(int),
                         "price": by.UnitPrice.mean()})


def churned(orders, features, start, horizon_days):
    came_back = set(orders[(orders.t >= start) & (orders.t < start + pd.Timedelta(days=horizon_days))].c)
    return np.array([0 if c in came_back else 1 for c in features.index])


def row(name, orders, lines, as_of, horizon_days):
    as_of = pd.Timestamp(as_of)
    train_at = as_of - pd.Timedelta(days=horizon_days)
    train = history_features(orders, train_at)
    test = history_features(orders, as_of)
    y_train = churned(orders, train, train_at, horizon_days)
    y_test = churned(orders, test, as_of, horizon_days)
    rfm = ["recency", "frequency", "monetary"]
    peer = LogisticRegression(max_iter=1000).fit(train[rfm], y_train).predict_proba(test[rfm])[:, 1]
    oracle_features = test if lines is None else test.join(detail_features(lines, as_of)).fillna(0)
    oracle = cross_val_predict(HistGradientBoostingClassifier(max_iter=300, learning_rate=0.03, max_depth=4,
                                                              min_samples_leaf=40),
                               oracle_features, y_test, cv=5, method="predict_proba")[:, 1]
    print(f"{name} {as_of.date()} H={horizon_days}: recency {roc_auc_score(y_test, test.recency):.3f}, "
          f"logistic RFM {roc_auc_score(y_test, peer):.3f}, oracle (look-ahead) {roc_auc_score(y_test, oracle):.3f}")


def main():
    orders, lines = online_retail()
    for as_of in ["2011-09-10", "2011-06-01", "2011-07-15", "2011-04-01"]:
        row("Online Retail", orders, lines, as_of, 90)
    orders, _ = cdnow()
    for as_of in ["1998-01-01", "1997-12-01", "1997-10-01"]:
        row("CDNOW", orders, None, as_of, 180)


if __name__ == "__main__":
    main()
