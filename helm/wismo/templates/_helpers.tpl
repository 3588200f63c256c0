{{/* Names ------------------------------------------------------------------------------- */}}

{{- define "wismo.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "wismo.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "wismo.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "wismo.selectorLabels" -}}
app.kubernetes.io/name: {{ include "wismo.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "wismo.labels" -}}
helm.sh/chart: {{ include "wismo.chart" . }}
{{ include "wismo.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: wismo
{{- end }}

{{/* Labels of one component; call with (list $ "component"). */}}
{{- define "wismo.componentLabels" -}}
{{- $root := index . 0 -}}
{{ include "wismo.labels" $root }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{- define "wismo.componentSelector" -}}
{{- $root := index . 0 -}}
{{ include "wismo.selectorLabels" $root }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{- define "wismo.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "wismo.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "wismo.image" -}}
{{- $repo := .Values.image.repository }}
{{- if .Values.image.registry }}
{{- $repo = printf "%s/%s" .Values.image.registry .Values.image.repository }}
{{- end }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" $repo .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" $repo (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The Secret the pods read: the user's, or the one this release owns. */}}
{{- define "wismo.secretName" -}}
{{- default (include "wismo.fullname" .) .Values.secrets.existingSecret }}
{{- end }}

{{/* Infrastructure ---------------------------------------------------------------------- */}}

{{/* "operator", "external" or "chdb" (in-process). */}}
{{- define "wismo.clickhouseMode" -}}
{{- if .Values.clickhouseOperator.enabled }}operator
{{- else if .Values.externalClickhouse.enabled }}external
{{- else }}chdb
{{- end }}
{{- end }}

{{- define "wismo.kafkaClusterName" -}}
{{- default (include "wismo.fullname" . | trunc 40 | trimSuffix "-") .Values.strimzi.clusterName }}
{{- end }}

{{- define "wismo.kafkaBootstrap" -}}
{{- if .Values.externalKafka.enabled }}
{{- .Values.externalKafka.bootstrap }}
{{- else }}
{{- printf "%s-kafka-bootstrap.%s.svc:%d" (include "wismo.kafkaClusterName" .) .Release.Namespace (int .Values.strimzi.listenerPort) }}
{{- end }}
{{- end }}

{{- define "wismo.chiName" -}}
{{- default (printf "%s-ch" .Release.Name | trunc 20 | trimSuffix "-") .Values.clickhouseOperator.name }}
{{- end }}

{{- define "wismo.keeperName" -}}
{{- printf "%s-keeper" (include "wismo.chiName" .) }}
{{- end }}

{{/* Service name of the Valkey dependency, as that chart computes it. */}}
{{- define "wismo.valkeyHost" -}}
{{- $v := .Values.valkey }}
{{- if $v.fullnameOverride }}
{{- $v.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default "valkey" $v.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Partitions of one logical topic; call with (list $ "name"). */}}
{{- define "wismo.topicPartitions" -}}
{{- $root := index . 0 }}
{{- $topic := index $root.Values.topics (index . 1) }}
{{- if and $topic (not (kindIs "invalid" $topic.partitions)) }}
{{- int64 $topic.partitions }}
{{- else }}
{{- int64 $root.Values.settings.kafka.partitions }}
{{- end }}
{{- end }}

{{/* The roles run outside the API pod: warehouse joins the API when ClickHouse is chDB. */}}
{{- define "wismo.workerRoles" -}}
{{- $roles := list }}
{{- range $role, $_ := .Values.workers.roles }}
{{- if not (and (eq $role "warehouse") (eq (include "wismo.clickhouseMode" $) "chdb")) }}
{{- $roles = append $roles $role }}
{{- end }}
{{- end }}
{{- toJson $roles }}
{{- end }}

{{- define "wismo.apiRoles" -}}
{{- if eq (include "wismo.clickhouseMode" .) "chdb" }}api,warehouse{{ else }}api{{ end }}
{{- end }}

{{/* Smallest partition count over the input topics of some roles; call with (list $ roles).
     Prints nothing when the roles consume no topic. */}}
{{- define "wismo.minPartitions" -}}
{{- $root := index . 0 }}
{{- $min := -1 }}
{{- range $role := index . 1 }}
{{- range $topic := (index $root.Values.workers.roles $role).inputTopics }}
{{- if not (hasKey $root.Values.topics $topic) }}
{{- fail (printf "workers.roles.%s.inputTopics names %q, which is not a topic under `topics`" $role $topic) }}
{{- end }}
{{- $p := include "wismo.topicPartitions" (list $root $topic) | int }}
{{- if or (lt $min 0) (lt $p $min) }}
{{- $min = $p }}
{{- end }}
{{- end }}
{{- end }}
{{- if ge $min 0 }}{{ $min }}{{ end }}
{{- end }}

{{/* Checks that no schema can express; included by the ConfigMap so every render runs them. */}}
{{- define "wismo.validate" -}}
{{- $v := .Values }}
{{- if eq (ternary 1 0 $v.strimzi.enabled) (ternary 1 0 $v.externalKafka.enabled) }}
{{- fail "Kafka: enable exactly one of strimzi.enabled and externalKafka.enabled" }}
{{- end }}
{{- if and $v.externalKafka.enabled (not $v.externalKafka.bootstrap) }}
{{- fail "externalKafka.enabled needs externalKafka.bootstrap (host:port[,host:port…])" }}
{{- end }}
{{- if eq (ternary 1 0 $v.valkey.enabled) (ternary 1 0 $v.externalRedis.enabled) }}
{{- fail "Redis: enable exactly one of valkey.enabled and externalRedis.enabled" }}
{{- end }}
{{- if and $v.externalRedis.enabled (not $v.externalRedis.url) (not $v.secrets.existingSecret) }}
{{- fail "externalRedis.enabled needs externalRedis.url, or WISMO_REDIS__URL in secrets.existingSecret" }}
{{- end }}
{{- if and $v.settings.redis.cluster $v.valkey.enabled }}
{{- fail "settings.redis.cluster needs externalRedis (a Redis Cluster); the bundled valkey is one server" }}
{{- end }}
{{- if and $v.clickhouseOperator.enabled $v.externalClickhouse.enabled }}
{{- fail "ClickHouse: enable at most one of clickhouseOperator.enabled and externalClickhouse.enabled (neither = chDB mode)" }}
{{- end }}
{{- if and $v.externalClickhouse.enabled (not $v.externalClickhouse.url) (not $v.secrets.existingSecret) }}
{{- fail "externalClickhouse.enabled needs externalClickhouse.url, or WISMO_CLICKHOUSE__URL in secrets.existingSecret" }}
{{- end }}
{{- if eq (include "wismo.clickhouseMode" .) "chdb" }}
{{- if or (gt (int $v.api.replicas) 1) $v.api.autoscaling.enabled }}
{{- fail (printf "chDB mode (no ClickHouse server) allows exactly one API pod, which also runs the warehouse role: only one process may open the chDB files. Set api.replicas=1 and api.autoscaling.enabled=false, or use clickhouseOperator / externalClickhouse (api.replicas is %d)" (int $v.api.replicas)) }}
{{- end }}
{{- end }}
{{- if eq $v.workers.mode "combined" }}
{{- $min := include "wismo.minPartitions" (list . (include "wismo.workerRoles" . | fromJsonArray)) }}
{{- if and $min (gt (int $v.workers.combined.replicas) (int $min)) }}
{{- fail (printf "workers.combined.replicas (%d) exceeds %d, the smallest partition count of the topics its roles consume: the extra consumers would sit idle. Raise the partitions or lower the replicas" (int $v.workers.combined.replicas) (int $min)) }}
{{- end }}
{{- else }}
{{- range $role := include "wismo.workerRoles" . | fromJsonArray }}
{{- $min := include "wismo.minPartitions" (list $ (list $role)) }}
{{- $replicas := int (index $v.workers.roles $role).replicas }}
{{- if and $min (gt $replicas (int $min)) }}
{{- fail (printf "workers.roles.%s.replicas (%d) exceeds %d, the smallest partition count of its input topics %v: the extra consumers would sit idle. Raise topics.<name>.partitions or lower the replicas" $role $replicas (int $min) (index $v.workers.roles $role).inputTopics) }}
{{- end }}
{{- end }}
{{- end }}
{{- if $v.strimzi.enabled }}
{{- $brokers := 0 }}
{{- $controllers := 0 }}
{{- range $v.strimzi.nodePools }}
{{- if has "broker" .roles }}{{ $brokers = add $brokers .replicas }}{{ end }}
{{- if has "controller" .roles }}{{ $controllers = add $controllers .replicas }}{{ end }}
{{- end }}
{{- if or (eq (int $brokers) 0) (eq (int $controllers) 0) }}
{{- fail "strimzi.nodePools needs at least one pool with the broker role and one with the controller role (KRaft)" }}
{{- end }}
{{- if gt (int $v.strimzi.topicReplicas) (int $brokers) }}
{{- fail (printf "strimzi.topicReplicas (%d) exceeds the %d brokers of strimzi.nodePools" (int $v.strimzi.topicReplicas) (int $brokers)) }}
{{- end }}
{{- if gt (int $v.settings.kafka.replication_factor) (int $brokers) }}
{{- fail (printf "settings.kafka.replication_factor (%d) exceeds the %d brokers of strimzi.nodePools" (int $v.settings.kafka.replication_factor) (int $brokers)) }}
{{- end }}
{{- if ge (int $v.strimzi.topicMinInsyncReplicas) (add1 (int $v.strimzi.topicReplicas)) }}
{{- fail "strimzi.topicMinInsyncReplicas must not exceed strimzi.topicReplicas" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Configuration ----------------------------------------------------------------------- */}}

{{/* A scalar as the environment expects it: numbers without exponent, strings as they are. */}}
{{- define "wismo.envScalar" -}}
{{- if kindIs "string" . }}{{ . }}{{ else }}{{ toJson . }}{{ end }}
{{- end }}

{{/* Settings whose value is a map of entries (not a section): one variable holding JSON. */}}
{{- define "wismo.jsonMapSettings" -}}
{{- toJson (list "WISMO_POLL__CARRIERS") }}
{{- end }}

{{/* WISMO_<PATH>=value for every non-empty leaf of a settings map; call with
     (dict "prefix" "WISMO_" "map" .Values.settings "out" $dict). */}}
{{- define "wismo.flattenSettings" -}}
{{- $out := .out }}
{{- $prefix := .prefix }}
{{- $jsonMaps := include "wismo.jsonMapSettings" . | fromJsonArray }}
{{- range $key, $value := .map }}
{{- if has (printf "%s%s" $prefix (upper $key)) $jsonMaps }}
{{- $_ := set $out (printf "%s%s" $prefix (upper $key)) (toJson $value) }}
{{- else if kindIs "map" $value }}
{{- include "wismo.flattenSettings" (dict "prefix" (printf "%s%s__" $prefix (upper $key)) "map" $value "out" $out) }}
{{- else if not (or (kindIs "invalid" $value) (and (kindIs "string" $value) (eq $value ""))) }}
{{- $_ := set $out (printf "%s%s" $prefix (upper $key)) (include "wismo.envScalar" $value) }}
{{- end }}
{{- end }}
{{- end }}

{{/* Where customers reach the API (links in e-mails): settings.notify.public_url, or, while it
     is the development default and the Ingress is on, the Ingress's first host. */}}
{{- define "wismo.publicUrl" -}}
{{- $url := .Values.settings.notify.public_url }}
{{- if and (eq $url "http://127.0.0.1:8080") .Values.ingress.enabled .Values.ingress.hosts }}
{{- $url = printf "%s://%s" (ternary "https" "http" (not (empty .Values.ingress.tls))) (index .Values.ingress.hosts 0).host }}
{{- end }}
{{- $url }}
{{- end }}

{{/* The ConfigMap's data as JSON: every non-secret setting plus the derived endpoints. */}}
{{- define "wismo.configData" -}}
{{- $out := dict }}
{{- include "wismo.flattenSettings" (dict "prefix" "WISMO_" "map" .Values.settings "out" $out) }}
{{- $_ := set $out "WISMO_NOTIFY__PUBLIC_URL" (include "wismo.publicUrl" .) }}
{{- $_ := set $out "WISMO_KAFKA__BOOTSTRAP" (include "wismo.kafkaBootstrap" .) }}
{{- if not .Values.settings.clickhouse.chdb_path }}
{{- $_ := set $out "WISMO_CLICKHOUSE__CHDB_PATH" (printf "%s/chdb" (trimSuffix "/" .Values.settings.data_dir)) }}
{{- end }}
{{- toJson $out }}
{{- end }}

{{/* A generated secret, made once per render and kept across upgrades through lookup; call
     with (list $ "KEY"). */}}
{{- define "wismo.generatedSecret" -}}
{{- $root := index . 0 }}
{{- $key := index . 1 }}
{{- if not (hasKey $root.Values "__wismoGenerated") }}
{{- $_ := set $root.Values "__wismoGenerated" dict }}
{{- end }}
{{- $cache := $root.Values.__wismoGenerated }}
{{- if not (hasKey $cache $key) }}
{{- $existing := lookup "v1" "Secret" $root.Release.Namespace (include "wismo.fullname" $root) }}
{{- if and $existing $existing.data (hasKey $existing.data $key) }}
{{- $_ := set $cache $key (index $existing.data $key | b64dec) }}
{{- else }}
{{- $_ := set $cache $key (randAlphaNum 48) }}
{{- end }}
{{- end }}
{{- index $cache $key }}
{{- end }}

{{- define "wismo.clickhousePassword" -}}
{{- if .Values.clickhouseOperator.password }}
{{- .Values.clickhouseOperator.password }}
{{- else }}
{{- include "wismo.generatedSecret" (list . "clickhouse-password") }}
{{- end }}
{{- end }}

{{/* The Secret's data (plain text) as JSON; only used when the chart owns the Secret. */}}
{{- define "wismo.secretData" -}}
{{- $s := .Values.secrets }}
{{- $out := dict }}
{{- $_ := set $out "WISMO_API__CUSTOMER_TOKEN_SECRET" (default (include "wismo.generatedSecret" (list . "WISMO_API__CUSTOMER_TOKEN_SECRET")) $s.customerTokenSecret) }}
{{- $_ := set $out "WISMO_API__AGENT_JWT_SECRET" (default (include "wismo.generatedSecret" (list . "WISMO_API__AGENT_JWT_SECRET")) $s.agentJwtSecret) }}
{{- if $s.apiKeys }}
{{- $_ := set $out "WISMO_API__API_KEYS" (toJson $s.apiKeys) }}
{{- else }}
{{- $generated := include "wismo.generatedSecret" (list . "WISMO_API__API_KEYS") }}
{{- if hasPrefix "[" $generated }}
{{- $_ := set $out "WISMO_API__API_KEYS" $generated }}
{{- else }}
{{- $_ := set $out "WISMO_API__API_KEYS" (toJson (list $generated)) }}
{{- end }}
{{- end }}
{{- $_ := set $out "WISMO_WEBHOOK_SECRETS" (toJson $s.webhookSecrets) }}
{{- if $s.brands }}
{{- $_ := set $out "WISMO_BRANDS" (toJson $s.brands) }}
{{- end }}
{{- $_ := set $out "WISMO_NOTIFY__UNSUBSCRIBE_SECRET" (default (include "wismo.generatedSecret" (list . "WISMO_NOTIFY__UNSUBSCRIBE_SECRET")) $s.unsubscribeSecret) }}
{{- if $s.smtpPassword }}
{{- $_ := set $out "WISMO_NOTIFY__SMTP_PASSWORD" $s.smtpPassword }}
{{- end }}
{{- if $s.smsToken }}
{{- $_ := set $out "WISMO_NOTIFY__SMS_TOKEN" $s.smsToken }}
{{- end }}
{{- if $s.casesClientSecret }}
{{- $_ := set $out "WISMO_CASES__CLIENT_SECRET" $s.casesClientSecret }}
{{- end }}
{{- $_ := set $out "WISMO_NOTIFY__ALERT_URLS" (toJson (default (list) $s.alertUrls)) }}
{{- range $source, $credentials := $s.carriers }}
{{- if $credentials.clientSecret }}
{{- $_ := set $out (printf "WISMO_POLL__CARRIERS__%s__CLIENT_SECRET" (upper $source)) $credentials.clientSecret }}
{{- end }}
{{- if $credentials.apiKey }}
{{- $_ := set $out (printf "WISMO_POLL__CARRIERS__%s__API_KEY" (upper $source)) $credentials.apiKey }}
{{- end }}
{{- end }}
{{- if .Values.valkey.enabled }}
{{- $_ := set $out "WISMO_REDIS__URL" (printf "redis://%s.%s.svc:%d/0" (include "wismo.valkeyHost" .) .Release.Namespace (int (dig "service" "port" 6379 .Values.valkey))) }}
{{- else }}
{{- $_ := set $out "WISMO_REDIS__URL" .Values.externalRedis.url }}
{{- end }}
{{- $mode := include "wismo.clickhouseMode" . }}
{{- if eq $mode "operator" }}
{{- $c := .Values.clickhouseOperator }}
{{- $password := include "wismo.clickhousePassword" . }}
{{- $_ := set $out "clickhouse-password" $password }}
{{- $_ := set $out "WISMO_CLICKHOUSE__URL" (printf "http://%s:%s@clickhouse-%s.%s.svc:8123/%s" (urlquery $c.user) (urlquery $password) (include "wismo.chiName" .) .Release.Namespace .Values.settings.clickhouse.database) }}
{{- else if eq $mode "external" }}
{{- $_ := set $out "WISMO_CLICKHOUSE__URL" .Values.externalClickhouse.url }}
{{- end }}
{{- toJson $out }}
{{- end }}

{{/* The secret settings every wismo container reads, by key. */}}
{{- define "wismo.secretEnvKeys" -}}
{{- $keys := list "WISMO_API__CUSTOMER_TOKEN_SECRET" "WISMO_API__AGENT_JWT_SECRET" "WISMO_API__API_KEYS" "WISMO_WEBHOOK_SECRETS" "WISMO_NOTIFY__UNSUBSCRIBE_SECRET" "WISMO_REDIS__URL" }}
{{- if ne (include "wismo.clickhouseMode" .) "chdb" }}
{{- $keys = append $keys "WISMO_CLICKHOUSE__URL" }}
{{- end }}
{{- toJson $keys }}
{{- end }}

{{/* Secret settings a container reads when the Secret has them (secretKeyRef optional): the
     notify role's credentials, the brands (they hold webhook secrets) and each polled
     source's. */}}
{{- define "wismo.optionalSecretEnvKeys" -}}
{{- $keys := list "WISMO_NOTIFY__SMTP_PASSWORD" "WISMO_NOTIFY__SMS_TOKEN" "WISMO_NOTIFY__ALERT_URLS" "WISMO_CASES__CLIENT_SECRET" "WISMO_BRANDS" }}
{{- $sources := concat (keys (default dict .Values.settings.poll.carriers)) (keys (default dict .Values.secrets.carriers)) | uniq | sortAlpha }}
{{- range $source := $sources }}
{{- $keys = append $keys (printf "WISMO_POLL__CARRIERS__%s__CLIENT_SECRET" (upper $source)) }}
{{- $keys = append $keys (printf "WISMO_POLL__CARRIERS__%s__API_KEY" (upper $source)) }}
{{- end }}
{{- toJson $keys }}
{{- end }}

{{/* envFrom + env of a wismo container; call with (dict "root" $ "configMap" name "secret" name). */}}
{{- define "wismo.containerEnv" -}}
{{- $root := .root }}
{{- $secret := .secret }}
envFrom:
  - configMapRef:
      name: {{ .configMap }}
env:
{{- range include "wismo.secretEnvKeys" $root | fromJsonArray }}
  - name: {{ . }}
    valueFrom:
      secretKeyRef:
        name: {{ $secret }}
        key: {{ . }}
{{- end }}
{{- range include "wismo.optionalSecretEnvKeys" $root | fromJsonArray }}
  - name: {{ . }}
    valueFrom:
      secretKeyRef:
        name: {{ $secret }}
        key: {{ . }}
        optional: true
{{- end }}
{{- with $root.Values.extraEnv }}
{{ toYaml . | indent 2 }}
{{- end }}
{{- end }}

{{- define "wismo.podSecurity" -}}
{{- with .Values.podSecurityContext }}
securityContext:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
serviceAccountName: {{ include "wismo.serviceAccountName" . }}
automountServiceAccountToken: false
{{- end }}

{{/* Pod annotations that roll the pods when their configuration changes. */}}
{{- define "wismo.podAnnotations" -}}
checksum/config: {{ include "wismo.configData" . | sha256sum }}
{{- if not .Values.secrets.existingSecret }}
checksum/secret: {{ include "wismo.secretData" . | sha256sum }}
{{- end }}
{{- with .Values.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end }}
