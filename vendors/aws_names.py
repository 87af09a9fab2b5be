"""AWS's published naming rules for what people paste into export forms: an S3 bucket
name and an IAM role ARN. Each check returns the problem in one sentence, or ""."""

from __future__ import annotations

import re

_BUCKET_CHARS = re.compile(r"^[a-z0-9.-]+$")
_IPV4 = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")
# Reserved by S3 (access points, Object Lambda, directory buckets).
_BUCKET_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_BUCKET_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3")
_ROLE_ARN = re.compile(r"^arn:aws(?:-cn|-us-gov)?:iam::(\d{12}):role/((?:[\w+=,.@-]+/)*)([\w+=,.@-]{1,64})$")


def s3_bucket_problem(name: str) -> str:
    """https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html"""
    if not 3 <= len(name) <= 63:
        return "must be 3 to 63 characters long"
    if not _BUCKET_CHARS.match(name):
        return "may contain only lowercase letters, digits, dots and hyphens"
    if not (name[0].isalnum() and name[-1].isalnum()):
        return "must begin and end with a letter or digit"
    if ".." in name:
        return "must not contain two dots in a row"
    if _IPV4.match(name):
        return "must not look like an IP address"
    if name.startswith(_BUCKET_PREFIXES) or name.endswith(_BUCKET_SUFFIXES):
        return "uses a prefix or suffix AWS reserves"
    return ""


def iam_role_arn_problem(arn: str) -> str:
    """arn:aws:iam::<12-digit account>:role/<optional path/><name of at most 64 characters>."""
    if not arn.startswith("arn:"):
        return "must be an IAM role ARN: arn:aws:iam::<12-digit account id>:role/<role name>"
    if not _ROLE_ARN.match(arn):
        if ":iam::" in arn and not re.search(r":iam::\d{12}:", arn):
            return "must name a 12-digit AWS account id: arn:aws:iam::123456789012:role/<role name>"
        if ":role/" not in arn:
            return "must be a role ARN (…:role/<role name>), not another kind of IAM ARN"
        return "must be arn:aws:iam::<12-digit account id>:role/<role name> (letters, digits and +=,.@_- only)"
    return ""
