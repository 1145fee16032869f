"""JSON schemas for the CloudNativePG objects of ``deploy/k8s/`` (``postgresql.cnpg.io/v1``).

The Kubernetes schemas that ``kubernetes-validate`` ships know no custom resources, so these
are written from the CloudNativePG API reference (operator 1.25): every field the manifests
use, with its type and allowed values, and the spec's known field names, so that a misspelt
or misplaced field fails the test the way ``strict=True`` does for built-in kinds. Fields the
manifests do not use are only checked by name.
"""

from __future__ import annotations

from typing import Any

API_VERSION = "postgresql.cnpg.io/v1"

_STRING: dict[str, Any] = {"type": "string", "minLength": 1}
_QUANTITY: dict[str, Any] = {"type": ["string", "integer"], "minLength": 1}
_NAME_REF: dict[str, Any] = {
    "type": "object",
    "properties": {"name": _STRING},
    "required": ["name"],
    "additionalProperties": False,
}
_SECRET_KEY_REF: dict[str, Any] = {
    "type": "object",
    "properties": {"name": _STRING, "key": _STRING},
    "required": ["name", "key"],
    "additionalProperties": False,
}
_METADATA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
        "namespace": _STRING,
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    "required": ["name", "namespace"],
    "additionalProperties": False,
}
_STORAGE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "size": _QUANTITY,
        "storageClass": _STRING,
        "resizeInUseVolumes": {"type": "boolean"},
        "pvcTemplate": {"type": "object"},
    },
    "required": ["size"],
    "additionalProperties": False,
}
_RESOURCE_LIST: dict[str, Any] = {
    "type": "object",
    "propertyNames": {"enum": ["cpu", "memory", "ephemeral-storage", "hugepages-2Mi"]},
    "additionalProperties": _QUANTITY,
}
_COMPRESSION: dict[str, Any] = {"enum": ["gzip", "bzip2", "lz4", "snappy", "xz", "zstd"]}

# Field names of the Cluster spec (the API reference's ClusterSpec).
_CLUSTER_SPEC_FIELDS = (
    "affinity backup bootstrap certificates description enablePDB enableSuperuserAccess env "
    "envFrom ephemeralVolumeSource ephemeralVolumesSizeLimit externalClusters failoverDelay "
    "imageCatalogRef imageName imagePullPolicy imagePullSecrets inheritedMetadata instances "
    "livenessProbeTimeout logLevel managed maxSyncReplicas minSyncReplicas monitoring "
    "nodeMaintenanceWindow plugins podSecurityContext postgresGID postgresUID postgresql "
    "primaryUpdateMethod primaryUpdateStrategy priorityClassName probes "
    "projectedVolumeTemplate replica replicationSlots resources schedulerName "
    "seccompProfile securityContext serviceAccountTemplate smartShutdownTimeout startDelay "
    "stopDelay storage superuserSecret switchoverDelay tablespaces "
    "topologySpreadConstraints walStorage"
).split()

CLUSTER: dict[str, Any] = {
    "type": "object",
    "properties": {
        "apiVersion": {"const": API_VERSION},
        "kind": {"const": "Cluster"},
        "metadata": _METADATA,
        "spec": {
            "type": "object",
            "propertyNames": {"enum": _CLUSTER_SPEC_FIELDS},
            "required": ["instances", "storage"],
            "properties": {
                "instances": {"type": "integer", "minimum": 1},
                "imageName": _STRING,
                "primaryUpdateStrategy": {"enum": ["unsupervised", "supervised"]},
                "primaryUpdateMethod": {"enum": ["switchover", "restart"]},
                "enableSuperuserAccess": {"type": "boolean"},
                "enablePDB": {"type": "boolean"},
                "postgresql": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "parameters": {
                            "type": "object",
                            "additionalProperties": {"type": "string"},
                        },
                        "synchronous": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["method", "number"],
                            "properties": {
                                "method": {"enum": ["any", "first"]},
                                "number": {"type": "integer", "minimum": 1},
                                "dataDurability": {"enum": ["required", "preferred"]},
                                "maxStandbyNamesFromCluster": {"type": "integer"},
                                "standbyNamesPre": {"type": "array"},
                                "standbyNamesPost": {"type": "array"},
                                "failoverQuorum": {"type": "boolean"},
                            },
                        },
                        "pg_hba": {"type": "array", "items": {"type": "string"}},
                        "pg_ident": {"type": "array", "items": {"type": "string"}},
                        "shared_preload_libraries": {"type": "array"},
                        "ldap": {"type": "object"},
                        "syncReplicaElectionConstraint": {"type": "object"},
                        "promotionTimeout": {"type": "integer"},
                        "enableAlterSystem": {"type": "boolean"},
                        "extensions": {"type": "array"},
                    },
                },
                "bootstrap": {
                    "type": "object",
                    "additionalProperties": False,
                    "maxProperties": 1,
                    "properties": {
                        "initdb": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["database", "owner"],
                            "properties": {
                                "database": _STRING,
                                "owner": _STRING,
                                "secret": _NAME_REF,
                                "encoding": _STRING,
                                "localeCollate": _STRING,
                                "localeCType": _STRING,
                                "locale": _STRING,
                                "localeProvider": _STRING,
                                "icuLocale": _STRING,
                                "dataChecksums": {"type": "boolean"},
                                "walSegmentSize": {"type": "integer"},
                                "options": {"type": "array"},
                                "postInitSQL": {"type": "array"},
                                "postInitApplicationSQL": {"type": "array"},
                                "postInitTemplateSQL": {"type": "array"},
                                "postInitApplicationSQLRefs": {"type": "object"},
                                "import": {"type": "object"},
                            },
                        },
                        "recovery": {"type": "object"},
                        "pg_basebackup": {"type": "object"},
                    },
                },
                "managed": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "roles": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "additionalProperties": False,
                                "required": ["name"],
                                "properties": {
                                    "name": _STRING,
                                    "ensure": {"enum": ["present", "absent"]},
                                    "comment": {"type": "string"},
                                    "login": {"type": "boolean"},
                                    "inherit": {"type": "boolean"},
                                    "superuser": {"type": "boolean"},
                                    "createdb": {"type": "boolean"},
                                    "createrole": {"type": "boolean"},
                                    "replication": {"type": "boolean"},
                                    "bypassrls": {"type": "boolean"},
                                    "connectionLimit": {"type": "integer"},
                                    "validUntil": {"type": "string"},
                                    "inRoles": {"type": "array", "items": _STRING},
                                    "passwordSecret": _NAME_REF,
                                    "disablePassword": {"type": "boolean"},
                                },
                            },
                        },
                        "services": {"type": "object"},
                    },
                },
                "storage": _STORAGE,
                "walStorage": _STORAGE,
                "resources": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {"requests": _RESOURCE_LIST, "limits": _RESOURCE_LIST},
                },
                "affinity": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "enablePodAntiAffinity": {"type": "boolean"},
                        "podAntiAffinityType": {"enum": ["preferred", "required"]},
                        "topologyKey": _STRING,
                        "nodeSelector": {"type": "object"},
                        "nodeAffinity": {"type": "object"},
                        "tolerations": {"type": "array"},
                        "additionalPodAffinity": {"type": "object"},
                        "additionalPodAntiAffinity": {"type": "object"},
                    },
                },
                "backup": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "retentionPolicy": {"type": "string", "pattern": "^[1-9][0-9]*[dwm]$"},
                        "target": {"enum": ["primary", "prefer-standby"]},
                        "volumeSnapshot": {"type": "object"},
                        "barmanObjectStore": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["destinationPath"],
                            "properties": {
                                "destinationPath": {"type": "string", "pattern": "^[a-z0-9]+://"},
                                "endpointURL": {"type": "string", "pattern": "^https?://"},
                                "serverName": _STRING,
                                "s3Credentials": {
                                    "type": "object",
                                    "additionalProperties": False,
                                    "properties": {
                                        "accessKeyId": _SECRET_KEY_REF,
                                        "secretAccessKey": _SECRET_KEY_REF,
                                        "region": _SECRET_KEY_REF,
                                        "sessionToken": _SECRET_KEY_REF,
                                        "inheritFromIAMRole": {"type": "boolean"},
                                    },
                                },
                                "azureCredentials": {"type": "object"},
                                "googleCredentials": {"type": "object"},
                                "endpointCA": _SECRET_KEY_REF,
                                "wal": {
                                    "type": "object",
                                    "properties": {"compression": _COMPRESSION},
                                },
                                "data": {
                                    "type": "object",
                                    "properties": {"compression": _COMPRESSION},
                                },
                                "tags": {"type": "object"},
                                "historyTags": {"type": "object"},
                            },
                        },
                    },
                },
                "monitoring": {"type": "object"},
            },
        },
    },
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
}

DATABASE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "apiVersion": {"const": API_VERSION},
        "kind": {"const": "Database"},
        "metadata": _METADATA,
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "required": ["cluster", "name", "owner"],
            "properties": {
                "cluster": _NAME_REF,
                "name": {"type": "string", "not": {"enum": ["postgres", "template0", "template1"]}},
                "owner": _STRING,
                "ensure": {"enum": ["present", "absent"]},
                "databaseReclaimPolicy": {"enum": ["delete", "retain"]},
                "encoding": _STRING,
                "locale": _STRING,
                "localeCollate": _STRING,
                "localeCType": _STRING,
                "template": _STRING,
                "tablespace": _STRING,
                "allowConnections": {"type": "boolean"},
                "connectionLimit": {"type": "integer"},
                "isTemplate": {"type": "boolean"},
                "extensions": {"type": "array"},
                "schemas": {"type": "array"},
            },
        },
    },
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
}

SCHEDULED_BACKUP: dict[str, Any] = {
    "type": "object",
    "properties": {
        "apiVersion": {"const": API_VERSION},
        "kind": {"const": "ScheduledBackup"},
        "metadata": _METADATA,
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "required": ["schedule", "cluster"],
            "properties": {
                # Six fields: seconds first.
                "schedule": {"type": "string", "pattern": r"^\S+( \S+){5}$"},
                "cluster": _NAME_REF,
                "backupOwnerReference": {"enum": ["none", "self", "cluster"]},
                "immediate": {"type": "boolean"},
                "suspend": {"type": "boolean"},
                "method": {"enum": ["barmanObjectStore", "volumeSnapshot", "plugin"]},
                "target": {"enum": ["primary", "prefer-standby"]},
            },
        },
    },
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
}

SCHEMAS = {"Cluster": CLUSTER, "Database": DATABASE, "ScheduledBackup": SCHEDULED_BACKUP}
