{{/* One wismo command run on a schedule; call with (dict "root" $ "component" "predict-train"
     "container" "predict-train" "args" (list …) "schedule" "…" "job" {backoffLimit,
     activeDeadlineSeconds, resources}). */}}
{{- define "wismo.cronJob" -}}
{{- $root := .root }}
apiVersion: batch/v1
kind: CronJob
metadata:
  name: {{ printf "%s-%s" (include "wismo.fullname" $root) .component }}
  labels:
    {{- include "wismo.componentLabels" (list $root .component) | nindent 4 }}
spec:
  schedule: {{ .schedule | quote }}
  concurrencyPolicy: Forbid
  successfulJobsHistoryLimit: 1
  failedJobsHistoryLimit: 3
  jobTemplate:
    spec:
      backoffLimit: {{ int .job.backoffLimit }}
      activeDeadlineSeconds: {{ int .job.activeDeadlineSeconds }}
      template:
        metadata:
          labels:
            {{- include "wismo.componentSelector" (list $root .component) | nindent 12 }}
        spec:
          restartPolicy: Never
          {{- include "wismo.podSecurity" $root | nindent 10 }}
          containers:
            - name: {{ .container }}
              image: {{ include "wismo.image" $root }}
              imagePullPolicy: {{ $root.Values.image.pullPolicy }}
              args: {{ toJson .args }}
              {{- include "wismo.containerEnv" (dict "root" $root "configMap" (include "wismo.fullname" $root) "secret" (include "wismo.secretName" $root)) | nindent 14 }}
              {{- with $root.Values.securityContext }}
              securityContext:
                {{- toYaml . | nindent 16 }}
              {{- end }}
              resources:
                {{- toYaml .job.resources | nindent 16 }}
              volumeMounts:
                - {name: data, mountPath: {{ $root.Values.settings.data_dir }}}
                - {name: tmp, mountPath: /tmp}
          volumes:
            - name: tmp
              emptyDir: {}
            - name: data
              emptyDir: {}
{{- end }}
