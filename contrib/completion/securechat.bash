# bash completion for securechat-node and securechat-tracker.
# `make install` puts this file in share/bash-completion/completions/ under
# both names; tests/integration/test_install.py checks that the option lists
# below are the ones each binary's --help prints.

_securechat_node_opts='--name --home --port --bind --peer --tracker --no-discovery
    --beacon-port --beacon-addr --beacon-iface --downloads --accept --accept-max
    --max-rate --stall-timeout --player --serve-max --pause-max --passphrase-file
    --json --whoami --verbose --help --version'

_securechat_tracker_opts='--home --bind --port --json --records-max
    --keys-per-address --register-rate --lookup-rate --push-rate --ttl --ttl-ms
    --mail-ttl-days --mail-per-recipient --mail-per-sender --mail-total
    --put-rate --verbose --help --version'

_securechat()
{
    local cur prev opts
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}
    COMPREPLY=()
    case $1 in
        *tracker) opts=$_securechat_tracker_opts ;;
        *) opts=$_securechat_node_opts ;;
    esac
    case $prev in
        --home|--downloads)
            COMPREPLY=($(compgen -d -- "$cur")); return ;;
        --passphrase-file)
            COMPREPLY=($(compgen -f -- "$cur")); return ;;
        --accept)
            COMPREPLY=($(compgen -W 'verified known ask' -- "$cur")); return ;;
        --player)
            COMPREPLY=($(compgen -c -- "$cur")); return ;;
        --beacon-iface)
            COMPREPLY=($(compgen -W "$(ls /sys/class/net 2>/dev/null)" -- "$cur")); return ;;
        --peer|--tracker)
            COMPREPLY=($(compgen -W 'tcp://' -- "$cur")); compopt -o nospace 2>/dev/null; return ;;
        --name|--port|--bind|--beacon-port|--beacon-addr|--accept-max|--max-rate|\
        --stall-timeout|--serve-max|--pause-max|--records-max|--keys-per-address|\
        --register-rate|--lookup-rate|--push-rate|--ttl|--ttl-ms|--mail-ttl-days|\
        --mail-per-recipient|--mail-per-sender|--mail-total|--put-rate)
            return ;;                   # a value of the user's own
    esac
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}
complete -F _securechat securechat-node securechat-tracker
