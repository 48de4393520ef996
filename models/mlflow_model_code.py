"""The code MLflow logs with each conversion model ("models from code": no pickled Python objects).

MLflow executes this file when it loads the model; ``set_model`` tells it which object serves predictions.
Nothing in xmo imports this module.
"""

from mlflow.models import set_model

from models.pyfunc import ConversionPyfunc

set_model(ConversionPyfunc())
