"""localenv's moto makes a symmetric KMS key without moto's RSA key pair (which AWS does not have for it, and which
cost ~0.11 s of CPU per key); the pair is made if something asks for it, and an asymmetric key signs and verifies
as before."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.kms.models import kms_backends

from localenv.emulator import configure_moto
from tests.opscli.conftest import FAKE_CREDENTIALS

REGION = "ap-northeast-1"


@pytest.fixture
def kms(monkeypatch):
    for key, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    configure_moto()
    with mock_aws():
        yield boto3.client("kms", region_name=REGION)


def _key(key_id: str):
    return kms_backends[DEFAULT_ACCOUNT_ID][REGION].keys[key_id]


def test_a_symmetric_key_encrypts_without_a_key_pair_until_one_is_asked_for(kms):
    key_id = kms.create_key(Description="symmetric")["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"secret")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"secret"
    assert _key(key_id).private_key._made is None  # no key pair made
    assert _key(key_id).private_key.public_key() is not None  # asked for (as moto answers GetPublicKey): made
    assert _key(key_id).private_key._made is not None


@pytest.mark.parametrize("spec, algorithm", [("RSA_2048", "RSASSA_PSS_SHA_256"),
                                             ("ECC_NIST_P256", "ECDSA_SHA_256")])
def test_an_asymmetric_key_has_its_pair_at_once_and_signs_and_verifies(kms, spec, algorithm):
    key_id = kms.create_key(KeySpec=spec, KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    assert not hasattr(_key(key_id).private_key, "_made")  # moto's own key pair, made when the key was
    signature = kms.sign(KeyId=key_id, Message=b"m", SigningAlgorithm=algorithm)["Signature"]
    assert kms.verify(KeyId=key_id, Message=b"m", Signature=signature, SigningAlgorithm=algorithm)["SignatureValid"]
    assert kms.get_public_key(KeyId=key_id)["PublicKey"]
