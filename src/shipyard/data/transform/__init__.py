"""The fitted preprocessing that training and serving share.

The Transform step learns a ``FittedTransform`` on the training split (medians and means
for imputation, scales for standardisation, vocabularies for categories) and every later
consumer applies that one object: Trainer, Evaluator and batch prediction through
``transform_frame``, the prediction server through ``transform_batch`` (one row as it
is, several rows of JSON read whole with numpy) and ``transform_columns`` (a batch sent
as columns).  The paths give bitwise-identical arrays for the same input, so there is no
training/serving skew.

>>> import pandas as pd
>>> frame = pd.DataFrame({"area": [50.0, 70.0, None], "city": ["a", "b", "a"]})
>>> fitted = learn_transform(frame)
>>> fitted.feature_names
('area', 'city=a', 'city=b', 'city=<other>')
>>> fitted.transform_rows([{"area": 60, "city": "c"}])
array([[0., 0., 0., 1.]])

Input rules, the same on both paths:

- A numeric column takes numbers.  Missing values (``None``, NaN, a key left out of a
  row) are imputed with the learned median (or mean).  Booleans, infinities and text are
  refused, numeric text such as ``"12.5"`` included: clients send numbers as JSON numbers.
- A categorical column takes text.  Integers, booleans and floats are compared by their
  text (``20`` and ``20.0`` as ``"20"``, ``True`` as ``"True"``).  A value outside the
  vocabulary goes to the column's ``<other>`` bucket; a missing value leaves the column's
  one-hot block all zero (ordinal code -1).  Lists, dicts and other objects are refused.
- Columns the transform does not use are ignored.  A frame must have every input column;
  a row may leave keys out.

Frames are refused with ``SchemaMismatch`` and rows with ``InvalidRequest``; both name the
column and the reason.
"""

from shipyard.data.transform.fitted import FittedTransform
from shipyard.data.transform.learning import TransformLearner, TransformSummary, learn_transform
from shipyard.data.transform.spec import TransformSpec
from shipyard.data.transform.stats import TransformStats

__all__ = [
    "FittedTransform",
    "TransformLearner",
    "TransformSpec",
    "TransformStats",
    "TransformSummary",
    "learn_transform",
]
