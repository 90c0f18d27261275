{{/* The chart's name, overridable. */}}
{{- define "vaultca.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The name of every object. A release named like the chart ("vaultca", as in
deploy/README.md) gives "vaultca", so the Service is vaultca.<ns>.svc, the
address the Istio overlay in deploy/istio points CA_ADDR at.
*/}}
{{- define "vaultca.fullname" -}}
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

{{- define "vaultca.serviceAccountName" -}}
{{- default (include "vaultca.fullname" .) .Values.serviceAccount.name }}
{{- end }}

{{- define "vaultca.selectorLabels" -}}
app.kubernetes.io/name: {{ include "vaultca.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "vaultca.labels" -}}
{{ include "vaultca.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: istio
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "vaultca.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* Where the pod's own service-account token, CA and namespace are projected. */}}
{{- define "vaultca.kubeTokenDir" -}}
/var/run/secrets/kubernetes.io/serviceaccount
{{- end }}

{{/*
The Lease names the chart's Role may read and update; a duty that is off
needs none.
*/}}
{{- define "vaultca.leaseNames" -}}
{{- $names := list }}
{{- if .Values.mesh.rootConfigMap.enabled }}
{{- $names = append $names .Values.mesh.rootConfigMap.leaseName }}
{{- end }}
{{- if .Values.mesh.istiodCertificate.enabled }}
{{- $names = append $names .Values.mesh.istiodCertificate.leaseName }}
{{- end }}
{{- toJson ($names | uniq) }}
{{- end }}

{{/*
Label matchers that pick vaultca's own series: the ServiceMonitor's job
label is the Service's name. istiod exports the same citadel_* metrics.
*/}}
{{- define "vaultca.promSelector" -}}
job="{{ include "vaultca.fullname" . }}", namespace="{{ .Release.Namespace }}"
{{- end }}
