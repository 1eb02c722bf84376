{{- define "platform.name" -}}
{{ .Chart.Name }}-{{ .Release.Name }}
{{- end -}}
