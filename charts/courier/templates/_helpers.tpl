{{/* Names: the release's "courier" name, shortened to fit DNS labels. */}}
{{- define "courier.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The prefix of every object's name; 40 characters leave room for suffixes such as "-selfsigned". */}}
{{- define "courier.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "courier.managerName" -}}{{ include "courier.fullname" . }}-manager{{- end }}
{{- define "courier.webhookName" -}}{{ include "courier.fullname" . }}-webhook{{- end }}
{{- define "courier.brokerServiceName" -}}{{ include "courier.fullname" . }}-broker{{- end }}
{{/* The MutatingWebhookConfiguration; the manager patches its caBundle by this name. */}}
{{- define "courier.webhookConfigurationName" -}}{{ include "courier.fullname" . }}{{- end }}

{{/*
The serving certificates' Secrets. Their names are fixed by the manager
(src/cli/commands/manager.ts), whichever issuer writes them.
*/}}
{{- define "courier.webhookTlsSecret" -}}courier-webhook-tls{{- end }}
{{- define "courier.brokerTlsSecret" -}}courier-broker-tls{{- end }}
{{/* Fixed by the manager too: the upload keys' JWKS it publishes. */}}
{{- define "courier.uploadKeysConfigMap" -}}courier-upload-keys{{- end }}
{{/* And the broker CA ConfigMap it writes in every tenant namespace (src/api/v1alpha1/delivery.ts). */}}
{{- define "courier.brokerCaConfigMap" -}}courier-broker-ca{{- end }}

{{- define "courier.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "courier.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: courier
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Labels of one component: pass (dict "root" $ "component" "manager"). */}}
{{- define "courier.componentLabels" -}}
{{ include "courier.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "courier.selectorLabels" -}}
app.kubernetes.io/name: {{ include "courier.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* An image reference from {repository, tag, digest}, the tag defaulting to appVersion. */}}
{{- define "courier.imageRef" -}}
{{- $tag := default .root.Chart.AppVersion .image.tag }}
{{- if .image.digest }}
{{- printf "%s@%s" .image.repository .image.digest }}
{{- else }}
{{- printf "%s:%s" .image.repository $tag }}
{{- end }}
{{- end }}

{{- define "courier.image" -}}
{{- include "courier.imageRef" (dict "root" . "image" .Values.image) }}
{{- end }}

{{/* The agent's image: its own values where given, else Courier's image. */}}
{{- define "courier.agentImage" -}}
{{- $agent := .Values.webhook.agentImage }}
{{- if $agent.repository }}
{{- include "courier.imageRef" (dict "root" . "image" $agent) }}
{{- else }}
{{- include "courier.image" . }}
{{- end }}
{{- end }}

{{- define "courier.brokerUrl" -}}
https://{{ include "courier.brokerServiceName" . }}.{{ .Release.Namespace }}.svc:{{ .Values.broker.port }}
{{- end }}

{{/* The in-cluster DNS names of a Service, as the manager puts them into its certificates. */}}
{{- define "courier.serviceDnsNames" -}}
- {{ .service }}
- {{ .service }}.{{ .namespace }}
- {{ .service }}.{{ .namespace }}.svc
- {{ .service }}.{{ .namespace }}.svc.cluster.local
{{- end }}

{{- define "courier.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "courier.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Soft spreading over nodes: pass (dict "root" $ "component" "manager"). */}}
{{- define "courier.spread" -}}
- maxSkew: 1
  topologyKey: kubernetes.io/hostname
  whenUnsatisfiable: ScheduleAnyway
  labelSelector:
    matchLabels:
      {{- include "courier.selectorLabels" . | nindent 6 }}
{{- end }}

{{/*
Checks the JSON schema cannot express; a failure stops helm install and
helm template with this message (helm lint only logs a template's fail).
*/}}
{{- define "courier.validate" -}}
{{- $names := list }}
{{- range .Values.config.stores }}
{{- if has .name $names }}
{{- fail (printf "config.stores: the store name %q is used twice" .name) }}
{{- end }}
{{- $names = append $names .name }}
{{- end }}
{{- if not (has .Values.config.defaultStore $names) }}
{{- fail (printf "config.defaultStore: %q is not one of config.stores (%s)" .Values.config.defaultStore (join ", " $names)) }}
{{- end }}
{{- if lt (include "courier.seconds" .Values.webhook.tokenExpiration | atoi) 600 }}
{{- fail (printf "webhook.tokenExpiration: %q is shorter than 10m, the least Kubernetes issues a projected token for" .Values.webhook.tokenExpiration) }}
{{- end }}
{{- end }}

{{/* Whole seconds of a duration written as "<n>s", "<n>m" or "<n>h" (the schema allows only these). */}}
{{- define "courier.seconds" -}}
{{- if hasSuffix "h" . }}{{ mul (trimSuffix "h" . | atoi) 3600 }}
{{- else if hasSuffix "m" . }}{{ mul (trimSuffix "m" . | atoi) 60 }}
{{- else }}{{ trimSuffix "s" . | atoi }}{{ end }}
{{- end }}
