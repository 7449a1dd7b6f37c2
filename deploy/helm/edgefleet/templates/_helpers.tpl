{{/*
Shared names and labels of the edgefleet chart.
*/}}

{{/* The chart name, or nameOverride. */}}
{{- define "edgefleet.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name used for every object: fullnameOverride, else the release name when it already contains the
chart name (the release `edgefleet` gives `edgefleet`), else `<release>-<chart>`.
*/}}
{{- define "edgefleet.fullname" -}}
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

{{/* chart label value: name-version. */}}
{{- define "edgefleet.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels that select the operator pods; never change them (Deployment selectors are immutable). */}}
{{- define "edgefleet.selectorLabels" -}}
app.kubernetes.io/name: {{ include "edgefleet.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "edgefleet.labels" -}}
helm.sh/chart: {{ include "edgefleet.chart" . }}
{{ include "edgefleet.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: edgefleet
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* The operator's ServiceAccount name. */}}
{{- define "edgefleet.serviceAccountName" -}}
{{- default (include "edgefleet.fullname" .) .Values.serviceAccount.name }}
{{- end }}

{{/* The operator image: repository@digest when a digest is set, else repository:tag (tag defaults to appVersion). */}}
{{- define "edgefleet.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}
