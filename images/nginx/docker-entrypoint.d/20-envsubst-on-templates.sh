#!/bin/sh
# Like the official image: render /etc/nginx/templates/**/*.template into
# /etc/nginx/conf.d/ with envsubst, substituting only variables that are set
# (and match NGINX_ENVSUBST_FILTER when given), so nginx's own $vars survive.
#   NGINX_ENVSUBST_TEMPLATE_DIR    (default /etc/nginx/templates)
#   NGINX_ENVSUBST_TEMPLATE_SUFFIX (default .template)
#   NGINX_ENVSUBST_OUTPUT_DIR      (default /etc/nginx/conf.d)
set -e

template_dir="${NGINX_ENVSUBST_TEMPLATE_DIR:-/etc/nginx/templates}"
suffix="${NGINX_ENVSUBST_TEMPLATE_SUFFIX:-.template}"
output_dir="${NGINX_ENVSUBST_OUTPUT_DIR:-/etc/nginx/conf.d}"
filter="${NGINX_ENVSUBST_FILTER:-}"

[ -d "$template_dir" ] || exit 0
if [ ! -w "$output_dir" ]; then
  echo "$0: ERROR: $template_dir exists, but $output_dir is not writable" >&2
  exit 0
fi

# '${A} ${B} ...' for every environment variable name (matching the filter)
# shellcheck disable=SC2016,SC2046
defined_envs=$(printf '${%s} ' $(awk "END { for (name in ENVIRON) { print ( name ~ /${filter}/ ) ? name : \"\" } }" </dev/null))

find "$template_dir" -follow -type f -name "*$suffix" -print | while read -r template; do
  relative_path="${template#"$template_dir/"}"
  output_path="$output_dir/${relative_path%"$suffix"}"
  subdir=$(dirname "$relative_path")
  mkdir -p "$output_dir/$subdir"
  echo "$0: Running envsubst on $template to $output_path"
  envsubst "$defined_envs" <"$template" >"$output_path"
done
