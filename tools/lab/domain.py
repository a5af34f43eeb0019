"""Domains shaped like the ones Nova's libvirt driver defines.

``instance-%08x`` names, the instance UUID, ``<nova:instance>`` metadata and
the guest-agent channel at the path Nova uses, so that the monitor sees in
the lab what it sees on a compute host.
"""
import datetime
import uuid as _uuid
from pathlib import Path
from xml.sax.saxutils import escape

import libvirt

from monitor import forensics

NOVA_NS = "http://openstack.org/xmlns/libvirt/nova/1.1"
LAB_MARK = '<nova:package version="instanceha-lab"/>'
AGENT_SOCKET = "/var/lib/libvirt/qemu/org.qemu.guest_agent.0.%s.sock"


def domain_xml(index, kernel, initrd, cmdline, console_log,
               instance_uuid=None, display_name=None, virt_type="qemu",
               panic_device=False, memory_mib=128, agent_channel=True,
               graphics=False, stats_period=10):
    name = "instance-%08x" % index
    instance_uuid = instance_uuid or str(_uuid.uuid4())
    created = datetime.datetime.now(datetime.timezone.utc).strftime(
        "%Y-%m-%d %H:%M:%S")
    tcg = ("<tcg><tb-cache unit='MiB'>32</tb-cache></tcg>"
           if virt_type == "qemu" else "")
    channel = ("""
    <channel type='unix'>
      <source mode='bind' path='{sock}'/>
      <target type='virtio' name='org.qemu.guest_agent.0'/>
    </channel>""".format(sock=AGENT_SOCKET % name) if agent_channel else "")
    extra = "\n    <panic model='isa'/>" if panic_device else ""
    # Nova writes <stats period='N'/> ([libvirt] mem_stats_period_seconds,
    # 10 by default); 0 turns the statistics off, as it does in Nova
    balloon = ("<memballoon model='virtio'><stats period='%d'/></memballoon>"
               % stats_period if stats_period else
               "<memballoon model='virtio'/>")
    if graphics:  # a screen to take screenshots of (VNC on loopback)
        extra += ("\n    <graphics type='vnc' autoport='yes' "
                  "listen='127.0.0.1'/>\n    <video><model type='vga'/>"
                  "</video>")
    return """<domain type='{virt}'>
  <name>{name}</name>
  <uuid>{uuid}</uuid>
  <metadata>
    <nova:instance xmlns:nova="{ns}">
      {mark}
      <nova:name>{display}</nova:name>
      <nova:creationTime>{created}</nova:creationTime>
      <nova:flavor name="lab.tiny">
        <nova:memory>{memory}</nova:memory>
        <nova:disk>0</nova:disk>
        <nova:swap>0</nova:swap>
        <nova:ephemeral>0</nova:ephemeral>
        <nova:vcpus>1</nova:vcpus>
      </nova:flavor>
      <nova:owner>
        <nova:user uuid="lab-user">admin</nova:user>
        <nova:project uuid="lab-project">admin</nova:project>
      </nova:owner>
    </nova:instance>
  </metadata>
  <memory unit='MiB'>{memory}</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>{kernel}</kernel>
    <initrd>{initrd}</initrd>
    <cmdline>{cmdline}</cmdline>
  </os>
  <features><acpi/>{tcg}</features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <serial type='file'>
      <source path='{console}'/>
      <target port='0'/>
    </serial>{channel}
    {balloon}{extra}
  </devices>
</domain>""".format(mark=LAB_MARK, virt=virt_type, name=name,
                    uuid=instance_uuid, ns=NOVA_NS,
                    display=escape(display_name or name), created=created,
                    memory=memory_mib, kernel=escape(kernel),
                    initrd=escape(initrd), cmdline=escape(cmdline), tcg=tcg,
                    console=escape(str(console_log)), channel=channel,
                    balloon=balloon, extra=extra)


def console_log(dom):
    """The file the guest's serial console writes to (found the way the
    monitor's forensics find it)."""
    return Path(forensics.console_logs(dom.XMLDesc(0))[0])


def remove(dom):
    """Destroy (if running) and undefine, whatever state it is in."""
    try:
        if dom.isActive():
            dom.destroy()
        dom.undefine()
    except libvirt.libvirtError:
        pass
