"""AWS naming rules for S3 buckets and IAM role ARNs, as the export forms check them."""

import pytest

from vendors.aws_names import iam_role_arn_problem, s3_bucket_problem


@pytest.mark.parametrize("name", ["my-bucket", "logs.example.com", "abc", "a" * 63, "b1-2.c3"])
def test_valid_bucket_names(name) -> None:
    assert s3_bucket_problem(name) == ""


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("ab", "3 to 63"),
        ("a" * 64, "3 to 63"),
        ("My-Bucket", "lowercase"),
        ("my_bucket", "lowercase"),
        ("s3://my-bucket", "lowercase"),
        ("-bucket", "begin and end"),
        ("bucket.", "begin and end"),
        ("my..bucket", "two dots"),
        ("10.0.0.1", "IP address"),
        ("xn--bucket", "reserves"),
        ("bucket-s3alias", "reserves"),
    ],
)
def test_invalid_bucket_names(name, says) -> None:
    assert says in s3_bucket_problem(name)


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:iam::123456789012:role/example-s3-role",
        "arn:aws:iam::123456789012:role/service/path/Mixpanel+Export@team",
        "arn:aws-cn:iam::123456789012:role/r",
    ],
)
def test_valid_role_arns(arn) -> None:
    assert iam_role_arn_problem(arn) == ""


@pytest.mark.parametrize(
    ("arn", "says"),
    [
        ("example-s3-role", "must be an IAM role ARN"),
        ("arn:aws:iam::12345678901:role/r", "12-digit"),
        ("arn:aws:iam::123456789012:user/u", "role ARN"),
        ("arn:aws:iam::123456789012:role/" + "r" * 65, "letters, digits"),
        ("arn:aws:s3:::bucket", "role ARN"),
    ],
)
def test_invalid_role_arns(arn, says) -> None:
    assert says in iam_role_arn_problem(arn)
