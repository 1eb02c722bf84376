{{- define "web.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
app.kubernetes.io/name: web
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
