{#- Before keepalived moves the VIP (the orchestration's step before it): a
    mount from an address that is no longer the VIP's is unmounted while
    that address still answers (an umount that outlasts call_timeouts:mount
    fails the step). nfsha.client mounts it again from the VIP once the VIP
    is held. -#}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import nfsha with context %}

{%- for mount in nfsha.client.mounts %}

nfsha-client-release-{{ mount.mount_point }}-released:
  nfsha.mount_released:
    - name: {{ mount.mount_point }}
    - device: {{ nfsha.vip.address }}:{{ mount.export }}
    - call_timeout: {{ nfsha.call_timeouts.mount }}
{%- endfor %}
