"""Estimators (scikit-learn contract) and the MLflow pyfunc flavor that serves them."""
